import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { kafkaSecurityFromEnv } from '../../../src/source/kafka-security.js';

describe('Kafka SASL and TLS from the environment', () => {
  it('is plaintext without settings, and maps SASL and TLS settings to kafkajs options', () => {
    expect(kafkaSecurityFromEnv({})).toEqual({});
    expect(
      kafkaSecurityFromEnv({
        KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
        KAFKA_SASL_USERNAME: 'sluice',
        KAFKA_SASL_PASSWORD: 's3cret',
        KAFKA_SSL: 'true',
      }),
    ).toEqual({ sasl: { mechanism: 'scram-sha-512', username: 'sluice', password: 's3cret' }, ssl: true });
    const ca = join(mkdtempSync(join(tmpdir(), 'sluice-ca-')), 'ca.crt');
    writeFileSync(ca, '-----BEGIN CERTIFICATE-----\n');
    expect(kafkaSecurityFromEnv({ KAFKA_SSL_CA_FILE: ca })).toEqual({
      ssl: { ca: ['-----BEGIN CERTIFICATE-----\n'] },
    });
  });

  it('names the variable, what was expected and what was found', () => {
    expect(() => kafkaSecurityFromEnv({ KAFKA_SASL_MECHANISM: 'gssapi' })).toThrow(
      'KAFKA_SASL_MECHANISM: expected one of plain, scram-sha-256, scram-sha-512, found "gssapi"',
    );
    expect(() => kafkaSecurityFromEnv({ KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'u' })).toThrow(
      'KAFKA_SASL_PASSWORD: expected a value with KAFKA_SASL_MECHANISM=plain, found nothing',
    );
    expect(() => kafkaSecurityFromEnv({ KAFKA_SSL: 'yes please' })).toThrow(
      'KAFKA_SSL: expected true or false',
    );
    expect(() => kafkaSecurityFromEnv({ KAFKA_SSL_CA_FILE: '/nope/ca.crt' })).toThrow(
      'KAFKA_SSL_CA_FILE: expected a readable PEM file, found "/nope/ca.crt"',
    );
  });
});
