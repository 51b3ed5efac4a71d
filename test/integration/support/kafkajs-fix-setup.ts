// Test files import kafkajs directly: the read_committed fix must be installed before it loads.
import '../../../src/source/kafkajs-fix.js';
