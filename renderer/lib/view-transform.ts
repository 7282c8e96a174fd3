/**
 * Pan/zoom math shared by the single viewer and the compare tiles. A view is expressed relative to
 * "fit" (zoom 1 = image fits the viewport) with a pan in screen pixels from the viewport centre, so
 * one view can be applied to several tiles of the same size to keep them synchronised.
 */
export interface View {
  zoom: number;
  panX: number;
  panY: number;
}

export const FIT_VIEW: View = Object.freeze({ zoom: 1, panX: 0, panY: 0 });
export const MIN_ZOOM = 0.05;
export const MAX_ZOOM = 256;

/** Scale at which an image fits a viewport, leaving `padding` pixels around it. */
export function fitScale(imgW: number, imgH: number, viewW: number, viewH: number, padding = 16): number {
  if (imgW <= 0 || imgH <= 0 || viewW <= 0 || viewH <= 0) return 1;
  const w = Math.max(1, viewW - padding * 2);
  const h = Math.max(1, viewH - padding * 2);
  return Math.min(w / imgW, h / imgH);
}

export function clampZoom(zoom: number, fit: number): number {
  const min = MIN_ZOOM / Math.max(fit, 1e-6);
  const max = MAX_ZOOM / Math.max(fit, 1e-6);
  return Math.min(max, Math.max(min, zoom));
}

/**
 * Zooms by `factor` keeping the screen point (cx, cy) — relative to the viewport centre — fixed.
 * `fit` is the fit scale, used only to clamp the absolute scale.
 */
export function zoomAround(view: View, factor: number, cx: number, cy: number, fit = 1): View {
  const zoom = clampZoom(view.zoom * factor, fit);
  const k = zoom / view.zoom;
  return { zoom, panX: cx - (cx - view.panX) * k, panY: cy - (cy - view.panY) * k };
}

export function panBy(view: View, dx: number, dy: number): View {
  return { ...view, panX: view.panX + dx, panY: view.panY + dy };
}

/** The view that shows the image at 100% (one image pixel per CSS pixel), centred. */
export function actualSizeView(fit: number): View {
  return { zoom: 1 / fit, panX: 0, panY: 0 };
}

/** Where to draw the image: CSS left/top of its top-left corner and the absolute scale. */
export function placeImage(view: View, imgW: number, imgH: number, viewW: number, viewH: number) {
  const fit = fitScale(imgW, imgH, viewW, viewH);
  const scale = fit * view.zoom;
  return {
    scale,
    left: viewW / 2 + view.panX - (imgW * scale) / 2,
    top: viewH / 2 + view.panY - (imgH * scale) / 2,
    width: imgW * scale,
    height: imgH * scale,
  };
}

/** Wheel delta → zoom factor (smooth for trackpads, ~1.2× per mouse notch). */
export function wheelFactor(deltaY: number, deltaMode = 0): number {
  const px = deltaMode === 1 ? deltaY * 16 : deltaMode === 2 ? deltaY * 400 : deltaY;
  return Math.exp(-px * 0.0015);
}
