import { runAction } from '@sluice/action-kit';

import { main } from './main.js';
import { post } from './post.js';

void runAction(
  () => main(),
  () => post(),
);
