/**
 * Step 5 of mapping a ComfyUI graph (graph.ts): the sampler's latent_image decides the kind of
 * generation — an EmptyLatentImage (txt2img), a VAEEncode (img2img, denoise = strength), a
 * VAEEncodeForInpaint or SetLatentNoiseMask with a LoadImage mask (inpaint), or a
 * VAEEncodeForInpaint of an ImagePadForOutpaint with its own mask (outpaint). Init images come from
 * LoadImage, optionally through ImageScale, resized here as ComfyUI would.
 */
import sharp from 'sharp';
import type { GenerateRequest } from '../../../common/api/schemas';
import { inspectImage, maskFromAlpha, toPng, type DecodedImage } from '../images';
import { asLink, GraphMappingError, type MapContext } from './graph-nodes';

/** What the latent's nodes fill in, and what they need from the earlier steps. */
export interface LatentTarget {
  request: GenerateRequest;
  /** Which node a GenerateRequest field came from. */
  fieldNodes: Record<string, string>;
  /** The sampler's denoise (1 for KSamplerAdvanced): the img2img strength. */
  denoise: number;
  /** Refuses a VAE input that does not come from the sampler's checkpoint. */
  requireCheckpointVae: (id: string) => void;
}

export async function mapLatent(ctx: MapContext, samplerId: string, target: LatentTarget): Promise<void> {
  const [latentId, latent] = ctx.source(samplerId, 'latent_image');
  const { fieldNodes } = target;
  fieldNodes.width = fieldNodes.height = fieldNodes.batchSize = latentId;
  if (latent.class_type === 'EmptyLatentImage') mapEmptyLatent(ctx, latentId, target);
  else if (latent.class_type === 'VAEEncode') await mapImageToImage(ctx, latentId, target);
  else if (latent.class_type === 'SetLatentNoiseMask') await mapLatentNoiseMask(ctx, latentId, target);
  else if (latent.class_type === 'VAEEncodeForInpaint') await mapEncodeForInpaint(ctx, latentId, target);
  else {
    throw new GraphMappingError(samplerId, ctx.graph[samplerId].class_type, `its latent_image comes from ${latent.class_type} #${latentId}; Atelier starts from EmptyLatentImage, VAEEncode, VAEEncodeForInpaint or SetLatentNoiseMask`);
  }
}

function mapEmptyLatent(ctx: MapContext, latentId: string, { request, denoise }: LatentTarget): void {
  request.width = Math.trunc(ctx.num(latentId, 'width'));
  request.height = Math.trunc(ctx.num(latentId, 'height'));
  request.batchSize = Math.trunc(ctx.num(latentId, 'batch_size'));
  if (denoise < 1) ctx.notes.push(`denoise ${denoise} on an empty latent — Atelier runs the whole text-to-image pass`);
}

async function mapImageToImage(ctx: MapContext, encodeId: string, target: LatentTarget): Promise<void> {
  target.requireCheckpointVae(encodeId);
  const image = await pixelsOf(ctx, encodeId, 'pixels');
  setInit(target.request, image, target.denoise);
  target.fieldNodes.initImage = image.nodeId;
}

async function mapLatentNoiseMask(ctx: MapContext, latentId: string, target: LatentTarget): Promise<void> {
  const [encId, enc] = ctx.source(latentId, 'samples');
  if (enc.class_type !== 'VAEEncode') throw new GraphMappingError(latentId, 'SetLatentNoiseMask', `masks ${enc.class_type} #${encId}; Atelier inpaints a VAEEncode of a loaded image`);
  target.requireCheckpointVae(encId);
  const image = await pixelsOf(ctx, encId, 'pixels');
  await setInpaint(ctx, latentId, image, target);
}

async function mapEncodeForInpaint(ctx: MapContext, latentId: string, target: LatentTarget): Promise<void> {
  target.requireCheckpointVae(latentId);
  const [pixId, pix, pixSlot] = ctx.source(latentId, 'pixels');
  const [maskId, , maskSlot] = ctx.source(latentId, 'mask');
  if (pix.class_type === 'ImagePadForOutpaint') {
    if (maskId !== pixId || pixSlot !== 0 || maskSlot !== 1) throw new GraphMappingError(latentId, 'VAEEncodeForInpaint', `outpaints the image of ImagePadForOutpaint #${pixId}; its mask must be that node's MASK output`);
    await mapOutpaint(ctx, pixId, target);
  } else {
    const image = await pixelsOf(ctx, latentId, 'pixels');
    await setInpaint(ctx, latentId, image, target);
  }
}

async function mapOutpaint(ctx: MapContext, padId: string, { request, fieldNodes, denoise }: LatentTarget): Promise<void> {
  const image = await pixelsOf(ctx, padId, 'image');
  const side = (k: string) => Math.trunc(ctx.num(padId, k));
  const pad = { left: side('left'), right: side('right'), top: side('top'), bottom: side('bottom') };
  if (pad.left + pad.right + pad.top + pad.bottom === 0) throw new GraphMappingError(padId, 'ImagePadForOutpaint', 'adds no pixels on any side');
  setInit(request, image, denoise);
  request.width = image.width + pad.left + pad.right;
  request.height = image.height + pad.top + pad.bottom;
  request.outpaint = pad;
  fieldNodes.width = fieldNodes.height = fieldNodes.outpaint = padId;
  fieldNodes.initImage = image.nodeId;
  if (ctx.num(padId, 'feathering') !== 40) ctx.notes.push('ImagePadForOutpaint feathering — Atelier feathers the seam its own way');
}

/** The init image and the LoadImage mask that node `maskNodeId` (SetLatentNoiseMask / VAEEncodeForInpaint) takes. */
async function setInpaint(ctx: MapContext, maskNodeId: string, image: Pixels, { request, fieldNodes, denoise }: LatentTarget): Promise<void> {
  setInit(request, image, denoise);
  const mask = await maskOf(ctx, maskNodeId, image);
  request.mask = { base64: mask.toString('base64') };
  fieldNodes.initImage = image.nodeId;
  fieldNodes.mask = maskNodeId;
}

interface Pixels extends DecodedImage {
  /** The node the pixels come from (LoadImage or ImageScale). */
  nodeId: string;
  /** The LoadImage they were loaded by (its MASK is their alpha). */
  loadId: string;
}

function setInit(request: GenerateRequest, image: Pixels, denoise: number): void {
  request.initImage = { base64: image.bytes.toString('base64') };
  request.width = image.width;
  request.height = image.height;
  request.strength = denoise;
  request.fit = 'resize';
  request.batchSize = 1;
}

/** The IMAGE an input receives: a LoadImage, optionally through ImageScale (resized here, as ComfyUI would). */
async function pixelsOf(ctx: MapContext, id: string, input: string): Promise<Pixels> {
  const link = asLink(ctx.graph[id].inputs[input])!;
  const [srcId] = link;
  const src = ctx.graph[srcId];
  if (src.class_type === 'LoadImage') {
    const name = String(src.inputs.image);
    const bytes = await ctx.files.read(name);
    if (!bytes) throw new GraphMappingError(srcId, 'LoadImage', `no uploaded image "${name}"`);
    let image: DecodedImage;
    try {
      image = await inspectImage(bytes, `LoadImage #${srcId}`);
    } catch (err) {
      throw new GraphMappingError(srcId, 'LoadImage', (err as Error).message);
    }
    const png = image.format === 'png' ? image : { ...image, bytes: await toPng(image.bytes), format: 'png' };
    return { ...png, nodeId: srcId, loadId: srcId };
  }
  if (src.class_type === 'ImageScale') {
    const inner = await pixelsOf(ctx, srcId, 'image');
    let width = Math.trunc(Number(src.inputs.width));
    let height = Math.trunc(Number(src.inputs.height));
    if (width === 0 && height === 0) return { ...inner, nodeId: srcId };
    if (width === 0) width = Math.max(1, Math.round((inner.width * height) / inner.height));
    if (height === 0) height = Math.max(1, Math.round((inner.height * width) / inner.width));
    const kernel = ({ 'nearest-exact': 'nearest', bilinear: 'linear', area: 'mitchell', bicubic: 'cubic', lanczos: 'lanczos3' } as const)[String(src.inputs.upscale_method)] ?? 'lanczos3';
    const fit = String(src.inputs.crop) === 'center' ? 'cover' : 'fill';
    const bytes = await sharp(inner.bytes).resize(width, height, { fit, kernel }).png().toBuffer();
    return { bytes, width, height, hasAlpha: inner.hasAlpha, format: 'png', nodeId: srcId, loadId: inner.loadId };
  }
  if (src.class_type === 'ImagePadForOutpaint') {
    throw new GraphMappingError(srcId, 'ImagePadForOutpaint', 'Atelier outpaints only through VAEEncodeForInpaint, with this node’s own MASK');
  }
  throw new GraphMappingError(id, ctx.graph[id].class_type, `its ${input} come from ${src.class_type} #${srcId}; Atelier takes init images from LoadImage (optionally through ImageScale)`);
}

/** The MASK of a LoadImage (1 − alpha), at the size of the pixels it masks. */
async function maskOf(ctx: MapContext, id: string, image: Pixels): Promise<Buffer> {
  const [srcId, slot] = asLink(ctx.graph[id].inputs.mask)!;
  const src = ctx.graph[srcId];
  if (src.class_type !== 'LoadImage' || slot !== 1) {
    throw new GraphMappingError(id, ctx.graph[id].class_type, `its mask comes from ${src.class_type} #${srcId}; Atelier takes masks from a LoadImage's MASK (the image's alpha)`);
  }
  const bytes = await ctx.files.read(String(src.inputs.image));
  if (!bytes) throw new GraphMappingError(srcId, 'LoadImage', `no uploaded image "${String(src.inputs.image)}"`);
  let mask = await maskFromAlpha(bytes);
  const meta = await sharp(mask).metadata();
  if (meta.width !== image.width || meta.height !== image.height) mask = await sharp(mask).resize(image.width, image.height, { fit: 'fill' }).png().toBuffer();
  return mask;
}
