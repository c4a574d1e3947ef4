export {
  APP_DIR,
  buildNextApp,
  DEMO_USERNAME,
  type NextDemo,
  type NextDemoOptions,
  startNextDemo,
} from './demo.js';
