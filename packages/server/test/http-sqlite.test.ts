import { runHttpSuite } from './http-suite.js';

runHttpSuite('sqlite');
