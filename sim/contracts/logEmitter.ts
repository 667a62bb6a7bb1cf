/**
 * A tiny hand-assembled contract for the test bed's traffic: every call (its fallback: there
 * are no functions) emits LOG2 with topic0 = CANARY_PING_TOPIC, topic1 = the caller, and the
 * calldata as the log data. No solc here: the creation code is written out below.
 *
 * Runtime (45 = 0x2d bytes):
 *   36          CALLDATASIZE            [size]
 *   6000        PUSH1 0                 [0, size]
 *   6000        PUSH1 0                 [0, 0, size]
 *   37          CALLDATACOPY            memory[0, size) = calldata[0, size)
 *   33          CALLER                  [caller]
 *   7f <32 B>   PUSH32 topic            [topic, caller]
 *   36          CALLDATASIZE            [size, topic, caller]
 *   6000        PUSH1 0                 [0, size, topic, caller]
 *   a2          LOG2                    log(memory[0, size), topic, caller)
 *   00          STOP
 *
 * Creation (11 = 0x0b bytes, then the runtime):
 *   602d        PUSH1 0x2d              [len]
 *   80          DUP1                    [len, len]
 *   600b        PUSH1 0x0b              [11, len, len]     runtime starts after these 11 bytes
 *   6000        PUSH1 0                 [0, 11, len, len]
 *   39          CODECOPY                memory[0, len) = code[11, 11 + len)
 *   6000        PUSH1 0                 [0, len]
 *   f3          RETURN                  deployed code = memory[0, len)
 */

/** keccak256("CanaryPing(address,bytes)"). */
export const CANARY_PING_TOPIC = "0xd1b812972756e0a62e7b67c44b2bb9e6247655581f31031b458be9f9b07efbc9";

export const LOG_EMITTER_RUNTIME = `0x366000600037337f${CANARY_PING_TOPIC.slice(2)}366000a200`;

export const LOG_EMITTER_CREATION = `0x602d80600b6000396000f3${LOG_EMITTER_RUNTIME.slice(2)}`;
