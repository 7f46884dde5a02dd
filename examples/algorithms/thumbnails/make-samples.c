/*
 * make-samples: sample input for the thumbnails example (the demo, tests, trying it by hand).
 *
 *   make-samples DIR
 *
 * Writes 22 PPM (P6) and PGM (P5) images of a few sizes and patterns under DIR (some in
 * subfolders), and 2 deliberately broken files -- a text file named .ppm and a truncated .pgm --
 * that the thumbnail program refuses with exit 2, so a run shows failures too. Deterministic: the
 * same files every time. Prints one line per file.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef void (*pattern_fn)(long x, long y, long w, long h, unsigned char rgb[3]);

static void gradient(long x, long y, long w, long h, unsigned char rgb[3]) {
  rgb[0] = (unsigned char)(255 * x / (w > 1 ? w - 1 : 1));
  rgb[1] = (unsigned char)(255 * y / (h > 1 ? h - 1 : 1));
  rgb[2] = (unsigned char)(255 - rgb[0] / 2 - rgb[1] / 2);
}

static void checkerboard(long x, long y, long w, long h, unsigned char rgb[3]) {
  long cell = (w > h ? w : h) / 16 + 1;
  unsigned char v = ((x / cell + y / cell) % 2) != 0 ? 230 : 25;
  rgb[0] = v;
  rgb[1] = v;
  rgb[2] = (unsigned char)(255 - v);
}

static void rings(long x, long y, long w, long h, unsigned char rgb[3]) {
  double dx = (double)x - (double)w / 2, dy = (double)y - (double)h / 2;
  double r = sqrt(dx * dx + dy * dy) / ((double)(w < h ? w : h) / 24.0);
  rgb[0] = (unsigned char)(127.5 + 127.5 * sin(r));
  rgb[1] = (unsigned char)(127.5 + 127.5 * cos(r * 0.7));
  rgb[2] = (unsigned char)(127.5 + 127.5 * sin(r * 1.3 + 1.0));
}

static void stripes(long x, long y, long w, long h, unsigned char rgb[3]) {
  long band = (x + y) * 12 / (w + h);
  static const unsigned char palette[6][3] = {{228, 3, 3},   {255, 140, 0}, {255, 237, 0},
                                              {0, 128, 38},  {36, 64, 142}, {115, 41, 130}};
  memcpy(rgb, palette[band % 6], 3);
}

static void uniform_teal(long x, long y, long w, long h, unsigned char rgb[3]) {
  (void)x, (void)y, (void)w, (void)h;
  rgb[0] = 0;
  rgb[1] = 128;
  rgb[2] = 128;
}

/* Deterministic noise (an LCG seeded by the position). */
static void noise(long x, long y, long w, long h, unsigned char rgb[3]) {
  unsigned long s = (unsigned long)(y * w + x) * 2654435761UL + 12345UL;
  (void)h;
  s = s * 1103515245UL + 12345UL;
  rgb[0] = (unsigned char)(s >> 16);
  s = s * 1103515245UL + 12345UL;
  rgb[1] = (unsigned char)(s >> 16);
  s = s * 1103515245UL + 12345UL;
  rgb[2] = (unsigned char)(s >> 16);
}

struct sample {
  const char *name;
  long width, height;
  int grey;
  pattern_fn pattern;
};

static const struct sample SAMPLES[] = {
    {"gradients/gradient-640x480.ppm", 640, 480, 0, gradient},
    {"gradients/gradient-1024x768.ppm", 1024, 768, 0, gradient},
    {"gradients/gradient-portrait-480x640.ppm", 480, 640, 0, gradient},
    {"gradients/gradient-grey-800x600.pgm", 800, 600, 1, gradient},
    {"patterns/checkerboard-512x512.ppm", 512, 512, 0, checkerboard},
    {"patterns/checkerboard-1600x900.ppm", 1600, 900, 0, checkerboard},
    {"patterns/checkerboard-grey-300x900.pgm", 300, 900, 1, checkerboard},
    {"patterns/rings-800x800.ppm", 800, 800, 0, rings},
    {"patterns/rings-1280x720.ppm", 1280, 720, 0, rings},
    {"patterns/rings-grey-1024x1024.pgm", 1024, 1024, 1, rings},
    {"patterns/stripes-640x360.ppm", 640, 360, 0, stripes},
    {"patterns/stripes-1920x1080.ppm", 1920, 1080, 0, stripes},
    {"patterns/stripes-grey-400x400.pgm", 400, 400, 1, stripes},
    {"noise/noise-256x256.ppm", 256, 256, 0, noise},
    {"noise/noise-1000x750.ppm", 1000, 750, 0, noise},
    {"noise/noise-grey-2048x1536.pgm", 2048, 1536, 1, noise},
    {"uniform/teal-320x240.ppm", 320, 240, 0, uniform_teal},
    {"uniform/teal-grey-200x100.pgm", 200, 100, 1, uniform_teal},
    {"small/icon-96x96.ppm", 96, 96, 0, rings},
    {"small/icon-grey-64x48.pgm", 64, 48, 1, gradient},
    {"holiday photos/beach 01.ppm", 900, 600, 0, gradient},
    {"holiday photos/sunset+sea.ppm", 1200, 800, 0, rings},
};

static void make_parents(char *path) {
  char *slash;
  for (slash = strchr(path + 1, '/'); slash != NULL; slash = strchr(slash + 1, '/')) {
    *slash = '\0';
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
      fprintf(stderr, "make-samples: cannot create %s: %s\n", path, strerror(errno));
      exit(1);
    }
    *slash = '/';
  }
}

static FILE *create(const char *dir, const char *name, char *path, size_t size) {
  FILE *out;
  if ((size_t)snprintf(path, size, "%s/%s", dir, name) >= size) {
    fprintf(stderr, "make-samples: path too long: %s/%s\n", dir, name);
    exit(1);
  }
  make_parents(path);
  out = fopen(path, "wb");
  if (out == NULL) {
    fprintf(stderr, "make-samples: cannot create %s: %s\n", path, strerror(errno));
    exit(1);
  }
  return out;
}

static void finish(FILE *out, const char *path, const char *what) {
  if (ferror(out) || fclose(out) != 0) {
    fprintf(stderr, "make-samples: cannot write %s: %s\n", path, strerror(errno));
    exit(1);
  }
  printf("%s  %s\n", path, what);
}

int main(int argc, char **argv) {
  char path[4096], what[64];
  size_t i;
  long x, y;
  FILE *out;
  unsigned char rgb[3];

  if (argc != 2) {
    fprintf(stderr, "usage: make-samples DIR\n");
    return 2;
  }
  for (i = 0; i < sizeof SAMPLES / sizeof SAMPLES[0]; i++) {
    const struct sample *s = &SAMPLES[i];
    out = create(argv[1], s->name, path, sizeof path);
    fprintf(out, "P%c\n# sluice sample: %s\n%ld %ld\n255\n", s->grey ? '5' : '6', s->name, s->width,
            s->height);
    for (y = 0; y < s->height; y++) {
      for (x = 0; x < s->width; x++) {
        s->pattern(x, y, s->width, s->height, rgb);
        if (s->grey) {
          putc((rgb[0] * 299 + rgb[1] * 587 + rgb[2] * 114 + 500) / 1000, out);
        } else {
          fwrite(rgb, 1, 3, out);
        }
      }
    }
    snprintf(what, sizeof what, "%ldx%ld %s", s->width, s->height, s->grey ? "PGM" : "PPM");
    finish(out, path, what);
  }

  out = create(argv[1], "broken/not-an-image.ppm", path, sizeof path);
  fputs("This is a text file with an image's name: the thumbnail program exits 2.\n", out);
  finish(out, path, "broken: not a PPM");

  out = create(argv[1], "broken/truncated-640x480.pgm", path, sizeof path);
  fprintf(out, "P5\n640 480\n255\n");
  for (x = 0; x < 640 * 100; x++) putc((int)(x % 256), out);
  finish(out, path, "broken: pixel data ends in row 101 of 480");
  return 0;
}
