/**
 * A tiny interpreter for Raft scenario scripts (after etcd-io/raft's datadriven tests).
 *
 * A script is a sequence of commands, each a line starting with `> `; the lines after it, up to
 * the next command, are its expected output. Blank lines and `#` comments are ignored.
 *
 * Commands:
 * - `config pre-vote=off check-quorum=off max-bytes=1 max-inflight=2 announce-commit=off`
 *                                      options of nodes created next
 * - `bootstrap 1 2 3 [learners 4 5]`  nodes sharing that initial membership
 * - `add-node 4`                       a fresh node with no membership (waits to be added)
 * - `campaign 1`                       node 1 starts a campaign (pre-vote first)
 * - `tick 1 [x10]` / `tick all [x10]`  logical time
 * - `propose 1 "x" ["y" …]`            a batch of proposals at node 1
 * - `propose-conf 1 addVoter 4`        a membership change (addVoter, addLearner, promoteLearner, removeNode)
 * - `transfer 1 2`                     leader 1 hands leadership to 2
 * - `deliver-msgs [to=2] [from=1]`     deliver what is queued (prints each message)
 * - `drop 1->2` / `drop all`           discard queued messages (prints them)
 * - `partition 1 | 2 3`, `cut 1->2`, `heal`
 * - `stabilize`                        deliver until quiet (prints nothing)
 * - `run [x20]`                        one tick on every live node, then stabilize; repeated
 * - `crash 2`, `restart 2`, `compact 1 [index]`
 * - `status [1 2]`, `log 1 [2 …]`, `applied 1`, `progress 1`, `leaders`
 */
import { ProposalDroppedError } from '../errors.js';
import type { ConfChange, NodeId } from '../types.js';
import { Network, type NetworkNodeOptions } from './network.js';
import { bytes } from './test-node.js';

/** One command and its expected output. */
export interface ScenarioStep {
  readonly line: number;
  readonly command: string;
  readonly expected: string[];
}

/** Splits a script into steps. */
export function parseScenario(script: string): ScenarioStep[] {
  const steps: { line: number; command: string; expected: string[] }[] = [];
  script.split('\n').forEach((raw, i) => {
    const line = raw.trimEnd();
    if (line.startsWith('> ')) {
      steps.push({ line: i + 1, command: line.slice(2).trim(), expected: [] });
    } else if (line.trim() !== '' && !line.startsWith('#')) {
      const current = steps.at(-1);
      if (!current) throw new Error(`line ${i + 1}: output before any command`);
      current.expected.push(line);
    }
  });
  return steps;
}

/** The outcome of running a script: every step's actual output, and the script rewritten. */
export interface ScenarioResult {
  readonly mismatches: { line: number; command: string; expected: string; actual: string }[];
  /** The script with each step's output replaced by the actual output (for REWRITE=1). */
  readonly rewritten: string;
}

/** Runs a script against a fresh network. */
export function runScenario(script: string, options: NetworkNodeOptions = {}): ScenarioResult {
  const network = new Network(options);
  const mismatches: ScenarioResult['mismatches'][number][] = [];
  const actualByLine = new Map<number, string[]>();
  for (const step of parseScenario(script)) {
    let actual: string[];
    try {
      actual = execute(network, step.command);
    } catch (error) {
      actual = [`panic: ${error instanceof Error ? error.message : String(error)}`];
    }
    actualByLine.set(step.line, actual);
    if (actual.join('\n') !== step.expected.join('\n')) {
      mismatches.push({
        line: step.line,
        command: step.command,
        expected: step.expected.join('\n'),
        actual: actual.join('\n'),
      });
    }
  }
  // Rewrite: keep comments and blank lines, replace each command's output.
  const out: string[] = [];
  let skipping = false;
  script.split('\n').forEach((raw, i) => {
    const line = raw.trimEnd();
    if (line.startsWith('> ')) {
      out.push(line, ...(actualByLine.get(i + 1) ?? []));
      skipping = true;
    } else if (line.trim() === '' || line.startsWith('#')) {
      out.push(line);
      skipping = false;
    } else if (!skipping) {
      out.push(line);
    }
  });
  return { mismatches, rewritten: out.join('\n') };
}

function ids(words: readonly string[]): NodeId[] {
  return words.filter((w) => w !== '|');
}

function parseRepeat(words: string[]): number {
  const last = words.at(-1);
  if (last && /^x\d+$/.test(last)) {
    words.pop();
    return Number(last.slice(1));
  }
  return 1;
}

function quoted(rest: string): string[] {
  return [...rest.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1] ?? '');
}

function describeError(error: unknown): string {
  if (error instanceof ProposalDroppedError) {
    return `error: ${error.reason} (leader=${error.leader || '-'})`;
  }
  if (error instanceof Error && 'code' in error) return `error: ${String(error.code)}`;
  throw error;
}

function execute(network: Network, command: string): string[] {
  const words = command.split(/\s+/);
  const verb = words.shift() ?? '';
  switch (verb) {
    case 'config': {
      const options: Record<string, unknown> = { ...network.nodeOptions };
      for (const word of words) {
        const [key = '', value = ''] = word.split('=');
        const flag = value === 'on';
        if (key === 'pre-vote') options['preVote'] = flag;
        else if (key === 'check-quorum') options['checkQuorum'] = flag;
        else if (key === 'max-bytes') options['maxBytesPerAppend'] = Number(value);
        else if (key === 'max-inflight') options['maxInflight'] = Number(value);
        else if (key === 'announce-commit') options['announceCommit'] = flag;
        else throw new Error(`unknown option ${key}`);
      }
      network.nodeOptions = options as NetworkNodeOptions;
      return [];
    }
    case 'bootstrap': {
      const split = words.indexOf('learners');
      const voters = split < 0 ? words : words.slice(0, split);
      const learners = split < 0 ? [] : words.slice(split + 1);
      network.add([...voters, ...learners], { voters, learners });
      return [];
    }
    case 'add-node':
      network.add(words);
      return [];
    case 'campaign': {
      const [id = ''] = words;
      network.node(id).node.campaign();
      network.process(id);
      return [];
    }
    case 'tick': {
      const times = parseRepeat(words);
      const targets = words[0] === 'all' ? [...network.nodes.keys()] : ids(words);
      for (let i = 0; i < times; i++) for (const id of targets) network.tick(id);
      return [];
    }
    case 'propose': {
      const [id = ''] = words;
      try {
        const positions = network.node(id).node.propose(...quoted(command).map(bytes));
        network.process(id);
        return [`proposed at ${positions.map((p) => `${p.index}@${p.term}`).join(' ')}`];
      } catch (error) {
        return [describeError(error)];
      }
    }
    case 'propose-conf': {
      const [id = '', type = '', nodeId = ''] = words;
      try {
        const position = network.node(id).node.proposeConfChange({
          type: type as ConfChange['type'],
          nodeId,
        });
        network.process(id);
        return [`proposed at ${position.index}@${position.term}`];
      } catch (error) {
        return [describeError(error)];
      }
    }
    case 'transfer': {
      const [from = '', to = ''] = words;
      try {
        network.node(from).node.transferLeadership(to);
        network.process(from);
        return [];
      } catch (error) {
        return [describeError(error)];
      }
    }
    case 'deliver-msgs': {
      const to = words.find((w) => w.startsWith('to='))?.slice(3);
      const from = words.find((w) => w.startsWith('from='))?.slice(5);
      return network.deliver(
        (m) => (to === undefined || m.to === to) && (from === undefined || m.from === from),
      );
    }
    case 'drop': {
      const [spec = 'all'] = words;
      const [from, to] = spec.split('->');
      return network
        .take((m) => spec === 'all' || (m.from === from && m.to === to))
        .map((m) => `dropped ${formatQueued(m)}`);
    }
    case 'partition': {
      const bar = words.indexOf('|');
      network.partition(words.slice(0, bar), words.slice(bar + 1));
      return [];
    }
    case 'cut': {
      const [from = '', to = ''] = (words[0] ?? '').split('->');
      network.cutLink(from, to);
      return [];
    }
    case 'heal':
      network.heal();
      return [];
    case 'stabilize':
      network.stabilize();
      return [];
    case 'run': {
      const times = parseRepeat(words);
      for (let i = 0; i < times; i++) {
        for (const id of network.nodes.keys()) network.tick(id);
        network.stabilize();
      }
      return [];
    }
    case 'crash':
      for (const id of words) network.crash(id);
      return [];
    case 'restart':
      for (const id of words) network.restart(id);
      return [];
    case 'compact': {
      const [id = '', index] = words;
      network.node(id).compact(index === undefined ? undefined : Number(index));
      return [];
    }
    case 'status':
      return network.status(words.length > 0 ? words : undefined);
    case 'log':
      return words.map((id) => network.log(id));
    case 'applied':
      return words.map(
        (id) =>
          `${id}: ${network
            .node(id)
            .applied.map((a) => `${a.index}:${a.data}`)
            .join(' ')}`,
      );
    case 'progress': {
      const [id = ''] = words;
      const progress = network.node(id).node.status().progress;
      return Object.entries(progress).map(([peer, p]) => `${peer}: ${p}`);
    }
    case 'leaders':
      return [`leaders: ${network.leaders().join(' ') || '-'}`];
    default:
      throw new Error(`unknown command ${verb}`);
  }
}

function formatQueued(m: { from: string; to: string; type: string }): string {
  return `${m.from}->${m.to} ${m.type}`;
}
