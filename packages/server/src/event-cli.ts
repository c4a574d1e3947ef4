import type { EventState } from '@guestmode/core';
import { type OperatorCliContext, withOperatorEngine } from './operator-cli.js';

export const EVENTS_HELP = `  guestmode events list [--state pending|delivered|dead] [--after <id>] [flags]
                                                 outbox events by id, 50 at a time, as JSON lines
  guestmode events resend <id> [flags]           deliver an event again (a dead one included)`;

const USAGE = 2;
const STATES: readonly EventState[] = ['pending', 'delivered', 'dead'];

/**
 * `guestmode events list|resend`: the outbox as an operator sees it. Events carry ids only (the
 * guest's, the user's) and endpoint ids; webhook secrets are never read here, so they cannot be
 * printed. A resent event is delivered by the serving processes.
 */
export async function eventsCommand(
  argv: readonly string[],
  cli: OperatorCliContext,
): Promise<number> {
  const [verb, ...rest] = argv;
  if (verb !== 'list' && verb !== 'resend') {
    cli.err('guestmode: use guestmode events list|resend (try guestmode events --help)');
    return USAGE;
  }
  const id = verb === 'resend' ? rest[0] : undefined;
  if (verb === 'resend' && (!id || id.startsWith('-'))) {
    cli.err('guestmode: events resend needs an event id (evt_…)');
    return USAGE;
  }
  let state: EventState | undefined;
  let after = '';
  const flags: string[] = [];
  for (let i = verb === 'resend' ? 1 : 0; i < rest.length; i++) {
    const arg = rest[i]!;
    if (verb === 'list' && arg === '--after') after = rest[++i] ?? '';
    else if (verb === 'list' && arg === '--state') {
      const value = rest[++i] ?? '';
      if (!(STATES as readonly string[]).includes(value)) {
        cli.err(`guestmode: --state must be one of ${STATES.join(', ')}`);
        return USAGE;
      }
      state = value as EventState;
    } else flags.push(arg);
  }
  return withOperatorEngine(cli, flags, `events ${verb}`, async (engine) => {
    if (verb === 'list') {
      const events = await engine.listEvents({ after, ...(state ? { state } : {}) });
      for (const event of events) cli.out(JSON.stringify(event));
      return 0;
    }
    if (await engine.resendEvent(id!)) {
      cli.out(`guestmode: event ${id} is pending again; the service delivers it`);
      return 0;
    }
    cli.err(`guestmode: no event ${id}`);
    return 1;
  });
}
