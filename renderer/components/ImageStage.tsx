import { useCallback, type ReactNode } from 'react';
import { fitScale, placeImage, type View } from '../lib/view-transform';
import { useElementSize, usePanZoom } from './hooks';

interface Props {
  src: string | null;
  width: number;
  height: number;
  view: View;
  onView(v: View): void;
  testId?: string;
  alt?: string;
  /** Second image drawn over the first, clipped from the left at `swipe` (0..1). */
  overlay?: { src: string; swipe: number } | null;
  children?: ReactNode;
  /** Rendered inside the stage with the current absolute scale and fit scale (toolbars, readouts). */
  hud?: (m: { scale: number; fit: number }) => ReactNode;
  /** Synchronised loupe: the point (normalised image coords) to magnify, and hover reporting. */
  loupe?: { u: number; v: number } | null;
  onHover?: (p: { u: number; v: number } | null) => void;
  className?: string;
  /** Drawn over the image in its on-screen rectangle (e.g. the inpainting mask canvas). */
  imageLayer?: (place: { left: number; top: number; width: number; height: number; scale: number }) => ReactNode;
}

const LOUPE_PX = 168;
const LOUPE_ZOOM = 4;

/** A pan/zoom surface for one image (or two for the swipe compare), sharing a `View`. */
export function ImageStage({ src, width, height, view, onView, testId, alt = '', overlay, children, hud, loupe, onHover, className, imageLayer }: Props) {
  const [ref, size] = useElementSize<HTMLDivElement>();
  const getFit = useCallback(() => fitScale(width, height, size.width, size.height), [width, height, size.width, size.height]);
  usePanZoom(ref, view, onView, getFit);
  const place = placeImage(view, width, height, size.width, size.height);
  const pixelated = place.scale >= 2;
  const style = {
    left: place.left,
    top: place.top,
    width: place.width,
    height: place.height,
    imageRendering: pixelated ? ('pixelated' as const) : ('auto' as const),
  };
  return (
    <div
      ref={ref}
      className={`stage ${className ?? ''}`}
      data-testid={testId}
      data-zoom={place.scale.toFixed(3)}
      onPointerMove={
        onHover &&
        ((e) => {
          const r = e.currentTarget.getBoundingClientRect();
          const u = (e.clientX - r.left - place.left) / place.width;
          const v = (e.clientY - r.top - place.top) / place.height;
          onHover(u >= 0 && u <= 1 && v >= 0 && v <= 1 ? { u, v } : null);
        })
      }
      onPointerLeave={onHover && (() => onHover(null))}
    >
      {src && size.width > 0 && <img className="stage-img" src={src} alt={alt} draggable={false} style={style} />}
      {overlay && size.width > 0 && (
        <>
          <img
            className="stage-img"
            src={overlay.src}
            alt=""
            draggable={false}
            style={{ ...style, clipPath: `inset(0 0 0 ${Math.max(0, overlay.swipe * size.width - place.left)}px)` }}
          />
        </>
      )}
      {imageLayer && src && size.width > 0 && imageLayer(place)}
      {loupe && src && size.width > 0 && (
        <div
          className="loupe"
          data-testid="loupe"
          style={{
            left: place.left + loupe.u * place.width - LOUPE_PX / 2,
            top: place.top + loupe.v * place.height - LOUPE_PX / 2,
            width: LOUPE_PX,
            height: LOUPE_PX,
            backgroundImage: `url("${src}")`,
            backgroundSize: `${place.width * LOUPE_ZOOM}px ${place.height * LOUPE_ZOOM}px`,
            backgroundPosition: `${LOUPE_PX / 2 - loupe.u * place.width * LOUPE_ZOOM}px ${LOUPE_PX / 2 - loupe.v * place.height * LOUPE_ZOOM}px`,
            imageRendering: place.scale * LOUPE_ZOOM >= 2 ? 'pixelated' : 'auto',
          }}
        />
      )}
      {children}
      {hud?.({ scale: place.scale, fit: getFit() })}
    </div>
  );
}
