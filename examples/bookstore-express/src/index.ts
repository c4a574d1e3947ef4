export { type BookstoreApp, type BookstoreConfig, createBookstoreApp, loadConfig } from './app.js';
export { BOOKS, type Book } from './books.js';
export { DEMO_USERNAME, type Demo, type DemoOptions, startDemo } from './demo.js';
