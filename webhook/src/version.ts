// I/O edge, once at load: the version of the package this webhook ships in (package.json, found
// from this module's location), for build_info and the annotation on mutated pods.
import { packageVersion } from '../../cli/package.js';

export const WEBHOOK_VERSION: string = packageVersion();
