// Pure. Reads every network annotation the converter uses from one pod's annotation map, once,
// into typed values. Absent annotations stay absent; malformed ones throw naming the annotation.

import { parseConfigurationData, type ConfigurationDataEntry } from './configuration-data.js';
import { ANNOTATION } from './keys.js';
import { parseNetworkInfo, type NetworkInfoInterface } from './network-info.js';
import { parseNetworkStatus, type NetworkStatusEntry } from './network-status.js';
import { parseNetworksAnnotation, type NetworkSelection } from './networks.js';

/** The network facts found in a pod's annotations. */
export interface PodAnnotations {
  readonly networkStatus?: readonly NetworkStatusEntry[];
  /** The key networkStatus was read from (the current one or its deprecated twin), for messages. */
  readonly networkStatusKey?: string;
  readonly networks?: readonly NetworkSelection[];
  readonly configurationData?: readonly ConfigurationDataEntry[];
  /** `userspace/mapped-dir` (or the legacy `userspace/mappedDir`). */
  readonly mappedDir?: string;
  readonly networkInfo?: readonly NetworkInfoInterface[];
}

/** Accepts a Map or a plain record, as the public API does. */
export function toAnnotationMap(input: ReadonlyMap<string, string> | Readonly<Record<string, string>>): ReadonlyMap<string, string> {
  if (input instanceof Map) return input;
  const map = new Map<string, string>();
  for (const [key, value] of Object.entries(input)) {
    if (typeof value === 'string') map.set(key, value);
  }
  return map;
}

/**
 * Parses the network annotations of one pod. The current `network-status` wins over the
 * deprecated `networks-status` when both are present.
 *
 * @throws ConverterError E_ANNOTATION_JSON / E_ANNOTATION_SCHEMA naming the bad annotation.
 */
export function readPodAnnotations(annotations: ReadonlyMap<string, string>): PodAnnotations {
  const nonEmpty = (key: string): string | undefined => {
    const value = annotations.get(key);
    return value === undefined || value.trim() === '' ? undefined : value;
  };
  const statusKey = nonEmpty(ANNOTATION.networkStatus) !== undefined ? ANNOTATION.networkStatus : ANNOTATION.networksStatus;
  const status = nonEmpty(statusKey);
  const networks = nonEmpty(ANNOTATION.networks);
  const configData = nonEmpty(ANNOTATION.configurationData);
  const mappedDir = nonEmpty(ANNOTATION.mappedDir) ?? nonEmpty(ANNOTATION.mappedDirLegacy);
  const networkInfo = nonEmpty(ANNOTATION.networkInfo);
  return {
    ...(status !== undefined ? { networkStatus: parseNetworkStatus(status, statusKey), networkStatusKey: statusKey } : {}),
    ...(networks !== undefined ? { networks: parseNetworksAnnotation(networks) } : {}),
    ...(configData !== undefined ? { configurationData: parseConfigurationData(configData) } : {}),
    ...(mappedDir !== undefined ? { mappedDir: mappedDir.trim() } : {}),
    ...(networkInfo !== undefined ? { networkInfo: parseNetworkInfo(networkInfo) } : {}),
  };
}
