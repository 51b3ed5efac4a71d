// Test files read with kafkajs directly: they get Sluice's read_committed fix too, and its timers fix
// (no negative-timeout warning from the test process on Node 24).
import '../../../src/source/kafkajs-fix.js';
import '../../../src/source/kafkajs-timers.js';
