// Test files read with kafkajs directly: they get Sluice's read_committed fix too.
import '../../../src/source/kafkajs-fix.js';
