/**
 * Electron entry (bundled to dist/main/electron.cjs). Thin by design: the window, the custom
 * protocol, IPC wiring and menus. Everything else is the same Node-side backend server mode uses.
 */
import { app, BrowserWindow, ipcMain, Menu, net, protocol, shell, session, utilityProcess } from 'electron';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createDispatcher } from '../api/dispatch';
import { createBackend } from '../app/create-backend';
import type { AtelierBackend } from '../app/backend';
import { setAppRoot } from '../app/paths';
import { EVENT_CHANNEL } from '../../common/api/ipc-channels';
import { utilityProcessLauncher } from './engine-launcher';
import { registerIpcHandlers } from './ipc';
import { buildMenuTemplate } from './menu';
import {
  APP_ENTRY_URL,
  APP_SCHEME,
  appResponseHeaders,
  buildWindowOptions,
  denyPermission,
  hardenWebContents,
  isTrustedSenderUrl,
  resolveAtelierUrl,
} from './policy';

protocol.registerSchemesAsPrivileged([
  { scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true } },
]);

let mainWindow: BrowserWindow | null = null;
let backend: AtelierBackend | null = null;

if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  app.on('second-instance', () => {
    if (mainWindow) {
      if (mainWindow.isMinimized()) mainWindow.restore();
      mainWindow.focus();
    }
  });
  app.whenReady().then(start).catch((err) => {
    console.error(err);
    app.exit(1);
  });
}

async function start(): Promise<void> {
  const root = app.getAppPath();
  setAppRoot(root);
  const rendererDir = join(root, 'dist', 'renderer');
  // Packaged builds keep the demo model and the Electron-ABI native modules outside the asar.
  const resources = app.isPackaged ? process.resourcesPath : root;
  backend = await createBackend({
    userDataDir: app.getPath('userData'),
    imageUrlBase: `${APP_SCHEME}://`,
    transport: 'ipc',
    demoModelDir: join(resources, 'models', 'demo'),
    sqliteNativeBinding: join(resources, 'native', 'electron', 'better_sqlite3.node'),
    // The engine runs in a utility process: a crash or an out-of-memory kill takes only the engine.
    engineLauncher: utilityProcessLauncher(utilityProcess),
  });
  const be = backend;

  protocol.handle(APP_SCHEME, async (request) => {
    const target = resolveAtelierUrl(request.url, rendererDir);
    if (target.kind === 'invalid') return new Response(target.reason, { status: 400 });
    const file = target.kind === 'app' ? target.file : await be.resolveImage(target.id, target.kind);
    if (!file) return new Response('Not found', { status: 404 });
    const response = await net.fetch(pathToFileURL(file).href);
    return new Response(response.body, { status: response.status, headers: appResponseHeaders(response.headers) });
  });

  // No permission (camera, notifications, …) is ever needed.
  session.defaultSession.setPermissionRequestHandler(denyPermission);

  const dispatch = createDispatcher(be.api, (err) => console.error(err));
  registerIpcHandlers(ipcMain, dispatch, isTrustedSenderUrl);
  be.onEvent((event) => mainWindow?.webContents.send(EVENT_CHANNEL, event));

  Menu.setApplicationMenu(Menu.buildFromTemplate(buildMenuTemplate(process.platform, { openDataFolder: () => shell.openPath(app.getPath('userData')) })));
  createWindow(join(root, 'dist', 'preload', 'preload.cjs'));

  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) createWindow(join(root, 'dist', 'preload', 'preload.cjs'));
  });
}

function createWindow(preloadPath: string): void {
  const win = new BrowserWindow(buildWindowOptions(preloadPath));
  mainWindow = win;
  hardenWebContents(win.webContents);
  win.once('ready-to-show', () => win.show());
  win.on('closed', () => {
    if (mainWindow === win) mainWindow = null;
  });
  void win.loadURL(APP_ENTRY_URL);
}

let quitting = false;
app.on('before-quit', (event) => {
  if (quitting || !backend) return;
  // Cancel the running job and close the library before the process goes.
  event.preventDefault();
  quitting = true;
  backend.close().finally(() => app.quit());
});

app.on('window-all-closed', () => {
  if (process.platform !== 'darwin') app.quit();
});
