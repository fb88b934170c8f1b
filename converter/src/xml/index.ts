// Pure. The XML side of the converter: checks, `<interface type='vhostuser'>` emission and the
// lossless, idempotent whole-domain rewrite. Nothing here reads files or the environment.
export { checkInterface, checkInterfaces, checkMac, checkSocketPath, MAX_SOCKET_PATH_BYTES } from './checks.js';
export { ALIAS_PREFIX, RECONNECT_TIMEOUT_S, aliasFor, emitInterfaces } from './emit.js';
export { applyEdits, type TextEdit } from './edits.js';
export { planDomainEdits, rewriteDomain } from './rewrite.js';
export { parseXmlTree, type XmlTreeNode } from './tree.js';
