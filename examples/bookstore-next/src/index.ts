export {
  APP_DIR,
  buildNextApp,
  DEMO_USERNAME,
  type NextDemo,
  type NextDemoOptions,
  pickBuild,
  startNextDemo,
} from './demo.js';
export { printDemo, stopOnSignals } from './serve.js';
