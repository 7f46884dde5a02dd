import { runAction } from '@sluice/action-kit';

import { main } from './main.js';

void runAction(main);
