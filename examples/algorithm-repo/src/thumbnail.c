/*
 * thumbnail: a thumbnail and statistics of a binary PPM (P6) or PGM (P5) image.
 *
 *   thumbnail INPUT OUTPUT_DIR
 *
 * Writes OUTPUT_DIR/thumbnail.ppm (or .pgm for a grey image) whose longest side is THUMB_SIZE pixels
 * (environment, default 256; an image already that small is copied at its size, never enlarged),
 * made by area averaging: every thumbnail pixel is the mean of the block of source pixels it covers.
 * Writes OUTPUT_DIR/stats.json: the source's size, channels and maxval, and per channel the mean,
 * standard deviation (population), minimum and maximum, plus the thumbnail's size.
 *
 * The image is read one row at a time, so memory stays at one source row plus the thumbnail's sums,
 * whatever the image size.
 *
 * Exit status: 0 done; 2 the input is not an image this program reads (not PPM/PGM, ASCII P3/P2,
 * maxval above 255, truncated, absurd size) -- it never will be, so do not retry; 3 wrong usage or
 * THUMB_SIZE; 4 an I/O error (reading, writing the results) -- may work on a retry.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum { EXIT_BAD_INPUT = 2, EXIT_USAGE = 3, EXIT_IO = 4 };

/* Largest accepted side and pixel count: far beyond any photo, small enough that no sum overflows. */
#define MAX_SIDE 100000L
#define MAX_PIXELS (1L << 31)
#define DEFAULT_THUMB_SIZE 256L
#define MAX_THUMB_SIZE 8192L

static const char *input_path = "";

static void fail(int code, const char *format, ...) {
  va_list args;
  fprintf(stderr, "thumbnail: %s: ", input_path);
  va_start(args, format);
  vfprintf(stderr, format, args);
  va_end(args);
  fputc('\n', stderr);
  exit(code);
}

/* Skips whitespace and '#' comments (to the end of the line) between header fields. */
static void skip_separators(FILE *in) {
  int c;
  for (;;) {
    c = getc(in);
    if (c == '#') {
      while (c != '\n' && c != '\r' && c != EOF) c = getc(in);
    } else if (c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '\v' && c != '\f') {
      break;
    }
  }
  if (c != EOF) ungetc(c, in);
}

/* Reads one unsigned decimal header field; `what` names it in the error. */
static long read_field(FILE *in, const char *what) {
  long value = 0;
  int digits = 0;
  int c;
  skip_separators(in);
  while ((c = getc(in)) >= '0' && c <= '9') {
    if (value > (LONG_MAX - 9) / 10) fail(EXIT_BAD_INPUT, "the %s in the header is too large", what);
    value = value * 10 + (c - '0');
    digits++;
  }
  if (digits == 0) {
    if (c == EOF) fail(EXIT_BAD_INPUT, "the header ends before the %s", what);
    fail(EXIT_BAD_INPUT, "expected the %s in the header, found '%c'", what, c);
  }
  /* Exactly one whitespace character ends a field; after maxval the raster starts right after it. */
  if (c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '\v' && c != '\f') {
    if (c == EOF) fail(EXIT_BAD_INPUT, "the file ends right after the %s: no pixel data", what);
    if (c == '#') {
      ungetc(c, in);
    } else {
      fail(EXIT_BAD_INPUT, "unexpected '%c' after the %s in the header", c, what);
    }
  }
  return value;
}

static long thumb_size_from_env(void) {
  const char *text = getenv("THUMB_SIZE");
  char *end;
  long size;
  if (text == NULL || *text == '\0') return DEFAULT_THUMB_SIZE;
  errno = 0;
  size = strtol(text, &end, 10);
  if (errno != 0 || *end != '\0' || size < 1 || size > MAX_THUMB_SIZE) {
    fprintf(stderr, "thumbnail: THUMB_SIZE must be a whole number of pixels from 1 to %ld, found \"%s\"\n",
            MAX_THUMB_SIZE, text);
    exit(EXIT_USAGE);
  }
  return size;
}

/* Writes `text` as a JSON string (quotes included). */
static void json_string(FILE *out, const char *text) {
  const unsigned char *p;
  putc('"', out);
  for (p = (const unsigned char *)text; *p != '\0'; p++) {
    if (*p == '"' || *p == '\\') {
      fprintf(out, "\\%c", *p);
    } else if (*p < 0x20 || *p == 0x7f) {
      fprintf(out, "\\u%04x", *p);
    } else {
      putc(*p, out);
    }
  }
  putc('"', out);
}

static const char *base_name(const char *path) {
  const char *slash = strrchr(path, '/');
  return slash == NULL ? path : slash + 1;
}

/* Joins the output directory and a file name into `buffer`; refuses paths that do not fit. */
static void output_file(char *buffer, size_t size, const char *dir, const char *name) {
  size_t length = strlen(dir);
  const char *separator = length > 0 && dir[length - 1] == '/' ? "" : "/";
  if ((size_t)snprintf(buffer, size, "%s%s%s", dir, separator, name) >= size) {
    fprintf(stderr, "thumbnail: the output directory path is too long: %s\n", dir);
    exit(EXIT_USAGE);
  }
}

static FILE *create_file(const char *path) {
  FILE *out = fopen(path, "wb");
  if (out == NULL) {
    fprintf(stderr, "thumbnail: cannot create %s: %s\n", path, strerror(errno));
    exit(EXIT_IO);
  }
  return out;
}

static void close_file(FILE *out, const char *path) {
  if (ferror(out) || fclose(out) != 0) {
    fprintf(stderr, "thumbnail: cannot write %s: %s\n", path, strerror(errno));
    exit(EXIT_IO);
  }
}

/* mkdir -p: creates `path` and any missing parents. */
static int make_directories(const char *path) {
  char buffer[4096];
  char *slash;
  if (strlen(path) >= sizeof buffer) {
    errno = ENAMETOOLONG;
    return -1;
  }
  strcpy(buffer, path);
  for (slash = strchr(buffer + 1, '/'); slash != NULL; slash = strchr(slash + 1, '/')) {
    *slash = '\0';
    if (mkdir(buffer, 0755) != 0 && errno != EEXIST) return -1;
    *slash = '/';
  }
  return mkdir(buffer, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

int main(int argc, char **argv) {
  static const char *const channel_names[3] = {"red", "green", "blue"};
  char path[4096];
  FILE *in, *out;
  int magic[2], channels, c;
  long width, height, maxval, thumb_size, thumb_w, thumb_h, x, y, tx, ty;
  size_t row_bytes;
  unsigned char *row;
  uint64_t *sums, *counts;
  uint64_t sum[3] = {0, 0, 0}, sum_sq[3] = {0, 0, 0};
  unsigned min[3] = {255, 255, 255}, max[3] = {0, 0, 0};
  double pixels;
  struct stat info;

  if (argc != 3) {
    fprintf(stderr,
            "usage: thumbnail INPUT OUTPUT_DIR\n"
            "  INPUT       a binary PPM (P6) or PGM (P5) image, maxval up to 255\n"
            "  OUTPUT_DIR  receives thumbnail.ppm or thumbnail.pgm, and stats.json\n"
            "  THUMB_SIZE  (environment) longest side of the thumbnail, default %ld\n",
            DEFAULT_THUMB_SIZE);
    return EXIT_USAGE;
  }
  input_path = argv[1];
  thumb_size = thumb_size_from_env();

  in = fopen(input_path, "rb");
  if (in == NULL) {
    fprintf(stderr, "thumbnail: cannot open %s: %s\n", input_path, strerror(errno));
    return errno == ENOENT || errno == EISDIR ? EXIT_BAD_INPUT : EXIT_IO;
  }
  magic[0] = getc(in);
  magic[1] = getc(in);
  if (magic[0] != 'P' || (magic[1] != '6' && magic[1] != '5')) {
    if (magic[0] == 'P' && (magic[1] == '3' || magic[1] == '2'))
      fail(EXIT_BAD_INPUT, "an ASCII (P%c) netpbm file: only binary P6 (PPM) and P5 (PGM) are read", magic[1]);
    fail(EXIT_BAD_INPUT, "not a PPM or PGM image (a binary netpbm file starts with \"P6\" or \"P5\")");
  }
  channels = magic[1] == '6' ? 3 : 1;
  width = read_field(in, "width");
  height = read_field(in, "height");
  maxval = read_field(in, "maxval");
  if (width < 1 || height < 1) fail(EXIT_BAD_INPUT, "the image is %ldx%ld: it has no pixels", width, height);
  if (width > MAX_SIDE || height > MAX_SIDE || width * height > MAX_PIXELS)
    fail(EXIT_BAD_INPUT, "the image is %ldx%ld: larger than this program accepts (%ld pixels a side, %ld in all)",
         width, height, MAX_SIDE, MAX_PIXELS);
  if (maxval < 1 || maxval > 255)
    fail(EXIT_BAD_INPUT, "maxval is %ld: only 8-bit images (maxval 1 to 255) are read, not 16-bit ones", maxval);

  if (width >= height) {
    thumb_w = width < thumb_size ? width : thumb_size;
    thumb_h = (height * thumb_w + width / 2) / width;
  } else {
    thumb_h = height < thumb_size ? height : thumb_size;
    thumb_w = (width * thumb_h + height / 2) / height;
  }
  if (thumb_w < 1) thumb_w = 1;
  if (thumb_h < 1) thumb_h = 1;

  row_bytes = (size_t)width * (size_t)channels;
  row = malloc(row_bytes);
  sums = calloc((size_t)thumb_w * (size_t)thumb_h * (size_t)channels, sizeof *sums);
  counts = calloc((size_t)thumb_w * (size_t)thumb_h, sizeof *counts);
  if (row == NULL || sums == NULL || counts == NULL) fail(EXIT_IO, "out of memory");

  /* Area averaging: source pixel (x, y) belongs to thumbnail pixel (x * tw / w, y * th / h). */
  for (y = 0; y < height; y++) {
    size_t got = fread(row, 1, row_bytes, in);
    if (got != row_bytes) {
      if (ferror(in)) fail(EXIT_IO, "read error: %s", strerror(errno));
      fail(EXIT_BAD_INPUT, "truncated: the header says %ldx%ld with %d channel(s), the pixel data ends in row %ld of %ld",
           width, height, channels, y + 1, height);
    }
    ty = y * thumb_h / height;
    for (x = 0; x < width; x++) {
      uint64_t *cell;
      tx = x * thumb_w / width;
      cell = sums + ((size_t)ty * (size_t)thumb_w + (size_t)tx) * (size_t)channels;
      counts[(size_t)ty * (size_t)thumb_w + (size_t)tx]++;
      for (c = 0; c < channels; c++) {
        unsigned value = row[(size_t)x * (size_t)channels + (size_t)c];
        if (value > (unsigned)maxval)
          fail(EXIT_BAD_INPUT, "pixel (%ld, %ld) has the value %u, above the maxval %ld", x, y, value, maxval);
        cell[c] += value;
        sum[c] += value;
        sum_sq[c] += (uint64_t)value * value;
        if (value < min[c]) min[c] = value;
        if (value > max[c]) max[c] = value;
      }
    }
  }
  fclose(in);

  if (stat(argv[2], &info) != 0) {
    if (errno != ENOENT || make_directories(argv[2]) != 0) {
      fprintf(stderr, "thumbnail: cannot create the output directory %s: %s\n", argv[2], strerror(errno));
      return EXIT_IO;
    }
  } else if (!S_ISDIR(info.st_mode)) {
    fprintf(stderr, "thumbnail: the output %s is not a directory\n", argv[2]);
    return EXIT_USAGE;
  }

  output_file(path, sizeof path, argv[2], channels == 3 ? "thumbnail.ppm" : "thumbnail.pgm");
  out = create_file(path);
  fprintf(out, "P%c\n%ld %ld\n%ld\n", channels == 3 ? '6' : '5', thumb_w, thumb_h, maxval);
  for (ty = 0; ty < thumb_h; ty++) {
    for (tx = 0; tx < thumb_w; tx++) {
      size_t cell = (size_t)ty * (size_t)thumb_w + (size_t)tx;
      for (c = 0; c < channels; c++) {
        /* Rounded mean of the block. */
        putc((int)((sums[cell * (size_t)channels + (size_t)c] * 2 + counts[cell]) / (counts[cell] * 2)), out);
      }
    }
  }
  close_file(out, path);

  output_file(path, sizeof path, argv[2], "stats.json");
  out = create_file(path);
  pixels = (double)width * (double)height;
  fprintf(out, "{\n  \"input\": ");
  json_string(out, base_name(input_path));
  fprintf(out,
          ",\n  \"format\": \"%s\",\n  \"width\": %ld,\n  \"height\": %ld,\n  \"channels\": %d,\n"
          "  \"maxval\": %ld,\n  \"pixels\": %.0f,\n  \"stats\": [",
          channels == 3 ? "PPM" : "PGM", width, height, channels, maxval, pixels);
  for (c = 0; c < channels; c++) {
    double mean = (double)sum[c] / pixels;
    double variance = (double)sum_sq[c] / pixels - mean * mean;
    fprintf(out,
            "%s\n    { \"channel\": \"%s\", \"mean\": %.4f, \"stddev\": %.4f, \"min\": %u, \"max\": %u }",
            c == 0 ? "" : ",", channels == 3 ? channel_names[c] : "grey", mean,
            variance > 0 ? sqrt(variance) : 0.0, min[c], max[c]);
  }
  fprintf(out, "\n  ],\n  \"thumbnail\": { \"file\": \"%s\", \"width\": %ld, \"height\": %ld, \"size\": %ld }\n}\n",
          channels == 3 ? "thumbnail.ppm" : "thumbnail.pgm", thumb_w, thumb_h, thumb_size);
  close_file(out, path);

  printf("%s: %ldx%ld %s -> %ldx%ld thumbnail\n", base_name(input_path), width, height,
         channels == 3 ? "PPM" : "PGM", thumb_w, thumb_h);
  free(row);
  free(sums);
  free(counts);
  return 0;
}
