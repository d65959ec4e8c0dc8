/** Compact, stable text forms of messages and entries for scenario output and failure reports. */
import { decodeConfChange } from '../membership.js';
import type { Entry, Message } from '../types.js';

const decoder = new TextDecoder();

/** `7@2` for an empty entry, `7@2:"x"` with data, `7@2:addVoter 4` for a config entry. */
export function formatEntry(entry: Entry): string {
  const position = `${entry.index}@${entry.term}`;
  if (entry.type === 'config') {
    const change = decodeConfChange(entry.data);
    return `${position}:${change.type} ${change.nodeId}`;
  }
  if (entry.data.byteLength === 0) return position;
  return `${position}:${JSON.stringify(decoder.decode(entry.data))}`;
}

/** One line per message: `1->2 Append term=2 prev=5@1 commit=5 entries=[6@2]`. */
export function formatMessage(m: Message): string {
  const head = `${m.from}->${m.to} ${m.type} term=${m.term}`;
  switch (m.type) {
    case 'PreVote':
      return `${head} last=${m.lastIndex}@${m.lastTerm}`;
    case 'Vote':
      return `${head} last=${m.lastIndex}@${m.lastTerm}${m.transfer ? ' transfer' : ''}`;
    case 'PreVoteResponse':
    case 'VoteResponse':
      return `${head} ${m.reject ? 'rejected' : 'granted'}`;
    case 'Append':
      return (
        `${head} prev=${m.prevIndex}@${m.prevTerm} commit=${m.commit}` +
        (m.entries.length > 0 ? ` entries=[${m.entries.map(formatEntry).join(' ')}]` : '')
      );
    case 'AppendResponse':
      return m.reject
        ? `${head} rejected index=${m.index} hint=${m.hintIndex}@${m.hintTerm}`
        : `${head} index=${m.index}`;
    case 'Heartbeat':
      return `${head} commit=${m.commit}`;
    case 'Snapshot':
      return `${head} snapshot=${m.snapshot.metadata.index}@${m.snapshot.metadata.term}`;
    case 'HeartbeatResponse':
    case 'TimeoutNow':
      return head;
  }
}
