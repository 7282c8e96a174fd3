/**
 * Scheduler names as users and other tools spell them: a diffusers class name, optionally with a
 * "+karras" suffix (how imported A1111/InvokeAI/ComfyUI metadata says "DPM++ 2M Karras").
 */
export interface SchedulerChoice {
  className: string;
  options: { use_karras_sigmas?: boolean };
}

export function parseSchedulerName(name: string): SchedulerChoice {
  const m = /^(.*?)\+karras$/i.exec(name.trim());
  return m ? { className: m[1], options: { use_karras_sigmas: true } } : { className: name.trim(), options: {} };
}

export function formatSchedulerName(className: string, options: { use_karras_sigmas?: boolean } = {}): string {
  return options.use_karras_sigmas ? `${className}+karras` : className;
}
