/**
 * What validating a ComfyUI graph (graph.ts) and mapping it (graph.ts, graph-latent.ts) share: the
 * graph's shape, its links, ComfyUI's error body, and the reader a mapping step walks the graph with.
 * It sits below both so the mapping steps can live in their own files without an import circle.
 */
import type { ModelSummary } from '../../../common/api/contract';
import type { InputFiles } from './uploads';

export interface ComfyNode {
  class_type: string;
  inputs: Record<string, unknown>;
  _meta?: { title?: string };
}
export type ComfyGraph = Record<string, ComfyNode>;

export interface ComfyErrorDetail {
  type: string;
  message: string;
  details: string;
  extra_info: Record<string, unknown>;
}
export interface NodeErrors {
  errors: ComfyErrorDetail[];
  dependent_outputs: string[];
  class_type: string;
}
/** ComfyUI's 400 body for a prompt it will not run. */
export interface PromptError {
  error: ComfyErrorDetail;
  node_errors: Record<string, NodeErrors>;
}

export type Link = [string, number];

export function asLink(v: unknown): Link | null {
  return Array.isArray(v) && v.length === 2 && (typeof v[0] === 'string' || typeof v[0] === 'number') && Number.isInteger(v[1]) ? [String(v[0]), v[1] as number] : null;
}

/** A node the mapper cannot turn into an Atelier generation, and why. */
export class GraphMappingError extends Error {
  constructor(
    readonly nodeId: string,
    readonly classType: string,
    message: string,
  ) {
    super(`${classType} #${nodeId}: ${message}`);
    this.name = 'GraphMappingError';
  }
  toPromptError(outputs: string[]): PromptError {
    const detail: ComfyErrorDetail = { type: 'unsupported_graph', message: this.message, details: '', extra_info: { node_id: this.nodeId, class_type: this.classType } };
    return { error: { ...detail, message: `Atelier cannot run this graph: ${this.message}` }, node_errors: { [this.nodeId]: { errors: [detail], dependent_outputs: outputs, class_type: this.classType } } };
  }
}

/** A validated graph being mapped: every link it reads is known to point at an existing node. */
export interface MapContext {
  graph: ComfyGraph;
  models: ModelSummary[];
  files: InputFiles;
  /** What Atelier does differently from ComfyUI, collected in the order the steps find it. */
  notes: string[];
  /** The node linked into `input` of node `id`: its id, the node and the output slot. */
  source(id: string, input: string): [string, ComfyNode, number];
  num(id: string, input: string): number;
  text(id: string, input: string): string;
}

export function mapContext(graph: ComfyGraph, models: ModelSummary[], files: InputFiles): MapContext {
  return {
    graph,
    models,
    files,
    notes: [],
    source: (id, input) => {
      const link = asLink(graph[id].inputs[input])!;
      return [link[0], graph[link[0]], link[1]];
    },
    num: (id, input) => Number(graph[id].inputs[input]),
    text: (id, input) => String(graph[id].inputs[input]),
  };
}
