// Electron preload (sandboxed, bundled into one CommonJS file by scripts/build-node.mjs).
import { contextBridge, ipcRenderer } from 'electron';
import { createBridge } from './bridge';

contextBridge.exposeInMainWorld('atelier', createBridge(ipcRenderer));
