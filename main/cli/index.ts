/** The `atelier` command line: serve, worker, generate, models, info. */
import { runGenerate, GENERATE_USAGE } from './generate';
import { runServe, SERVE_USAGE } from './serve';
import { runInfo } from './info';
import { REPRODUCE_USAGE } from './reproduce';
import { VERIFY_USAGE } from './verify';
import { WORKER_USAGE } from './worker';

const USAGE = `Atelier — a local image studio

Usage:
  atelier serve     start the studio in server mode (browser UI + API)
  atelier worker    join a render farm (atelier serve --farm) as a worker
  atelier generate  generate images from a prompt
  atelier models    list, pull, import or remove models
  atelier info      show version, execution providers and data folders
  atelier verify    check the content credentials (C2PA) of image files
  atelier reproduce regenerate an image from its own parameters and compare

${SERVE_USAGE}

${WORKER_USAGE}

${GENERATE_USAGE}

${VERIFY_USAGE}

${REPRODUCE_USAGE}`;

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const io = { stdout: process.stdout, stderr: process.stderr };
  switch (command) {
    case 'serve':
      return runServe(rest);
    case 'worker': {
      const { runWorker } = await import('./worker');
      return runWorker(rest);
    }
    case 'generate':
      return runGenerate(rest, io);
    case 'models': {
      const { runModels } = await import('./models');
      return runModels(rest, io);
    }
    case 'info':
      return runInfo(rest, io);
    case 'verify': {
      const { runVerify } = await import('./verify');
      return runVerify(rest, io);
    }
    case 'reproduce': {
      const { runReproduce } = await import('./reproduce');
      return runReproduce(rest, io);
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE);
      return command === undefined ? 1 : 0;
    default:
      console.error(`Unknown command "${command}".\n\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: Error) => {
    console.error(`atelier: ${err?.message ?? err}`);
    process.exitCode = 1;
  },
);
