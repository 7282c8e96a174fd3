/** Where things live: kept in main/platform/ so every layer may ask; re-exported here for app-level callers. */
export { appRoot, bundledDemoModelDir, defaultUserDataDir, rendererDistDir, setAppRoot } from '../platform/paths';
