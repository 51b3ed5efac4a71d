// The `user-agent` stage: a user-agent string → browser, browserVersion, os, osVersion and device
// (mobile, tablet, desktop, bot, …), with ua-parser-js. Parsing is costly and a site sees few distinct
// agents, so parsed ones are kept (LRU).
import { LRUCache } from 'lru-cache';
import { UAParser } from 'ua-parser-js';
import type { Processor, StageRecord } from '../config/user-functions.js';

export interface AgentFields {
  browser?: string;
  browserVersion?: string;
  os?: string;
  osVersion?: string;
  device: string;
}

const BOT = /bot|crawl|spider|slurp|headless|lighthouse|curl|wget|python-requests/i;

export function parseUserAgent(agent: string): AgentFields {
  const result = new UAParser(agent).getResult();
  const device = BOT.test(agent) ? 'bot' : (result.device.type ?? 'desktop');
  const fields: AgentFields = { device };
  if (result.browser.name) fields.browser = result.browser.name;
  if (result.browser.major) fields.browserVersion = result.browser.major;
  if (result.os.name) fields.os = result.os.name;
  if (result.os.version) fields.osVersion = result.os.version;
  return fields;
}

export function userAgentProcessor(field: string): Processor {
  const parsed = new LRUCache<string, AgentFields>({ max: 5_000 });
  return (record: StageRecord) => {
    const event = record.value as Record<string, unknown>;
    const agent = event[field];
    if (typeof agent !== 'string' || agent === '') return { ...event, device: 'unknown' };
    let fields = parsed.get(agent);
    if (!fields) parsed.set(agent, (fields = parseUserAgent(agent)));
    return { ...event, ...fields };
  };
}
