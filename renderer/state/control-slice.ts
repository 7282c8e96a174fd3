/**
 * ControlNet units of the workspace (left panel, canvas strip, generate request) and the installed
 * ControlNets they can name (listControlNets, listed on demand: it reads a folder).
 */
import type { StateCreator } from 'zustand';
import type { AtelierClient } from '../../common/api/contract';
import { CONTROL_UNITS_MAX, defaultAnnotator, loadStoredControlImages, newControlUnit } from '../lib/control-units';
import { describeError } from '../lib/errors';
import type { AtelierState, ControlSlice } from './types';

export const createControlSlice =
  (client: AtelierClient): StateCreator<AtelierState, [], [], ControlSlice> =>
  (set, get) => {
    const modelFamily = () => {
      const s = get();
      return s.models.find((m) => m.id === s.params.modelId)?.family;
    };
    return {
      controlNets: null,
      controlNetsError: null,
      async refreshControlNets() {
        try {
          set({ controlNets: await client.listControlNets(), controlNetsError: null });
        } catch (err) {
          set({ controlNetsError: describeError(err) });
        }
      },

      controlUnits: [],
      addControlUnit(image = null) {
        if (get().controlUnits.length >= CONTROL_UNITS_MAX) return null;
        const unit = newControlUnit(get().controlNets ?? [], modelFamily(), image);
        set((s) => ({ controlUnits: [...s.controlUnits, unit] }));
        return unit.key;
      },
      updateControlUnit(key, patch) {
        set((s) => ({ controlUnits: s.controlUnits.map((u) => (u.key === key ? { ...u, ...patch } : u)) }));
      },
      chooseControlNet(key, name) {
        const net = get().controlNets?.find((c) => c.name === name);
        get().updateControlUnit(key, { model: name, annotator: defaultAnnotator(net) });
      },
      removeControlUnit(key) {
        set((s) => ({ controlUnits: s.controlUnits.filter((u) => u.key !== key) }));
      },
      useGenerationForControl(key, r) {
        get().updateControlUnit(key, { image: { kind: 'generation', generationId: r.id, thumbUrl: r.thumbUrl, width: r.width, height: r.height } });
      },
      setControlUnits(units) {
        set({ controlUnits: units.slice(0, CONTROL_UNITS_MAX) });
      },
      async restoreControlImages(pending) {
        if (pending.length === 0) return [];
        const { images, notRestored } = await loadStoredControlImages(pending, (ref) => client.getControlImage({ ref }));
        // Only units still without an image: meanwhile the user may have removed one, given it another image or restored other parameters.
        set((s) => ({ controlUnits: s.controlUnits.map((u) => (u.image === null && images.has(u.key) ? { ...u, image: images.get(u.key)! } : u)) }));
        return notRestored;
      },
    };
  };
