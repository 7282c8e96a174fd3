import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { connect } from './api/connect';
import { App } from './components/App';
import { createAtelierStore, StoreContext } from './state/store';
import './styles.css';

const store = createAtelierStore(connect());
void store.getState().init();

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <StoreContext.Provider value={store}>
      <App />
    </StoreContext.Provider>
  </StrictMode>,
);
