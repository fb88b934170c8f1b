{{/*
TLS material for tls.mode selfSigned, as YAML: {ca, cert, key, caBundle} (base64 PEM), notAfter
(unix seconds) and dnsNames (comma-separated). An existing Secret is reused while it still covers the Service's DNS names and is
not within renewBeforeDays of expiry; the Secret's annotations record both. When it is replaced,
caBundle carries the old CA as well, so that pods still serving the old certificate (until their
mounted Secret is refreshed and reloaded) keep being trusted; the next upgrade drops it.
Without a cluster (`helm template`) lookup finds nothing and fresh material is generated.
Call it once per render: every call without a Secret to reuse generates a new CA.
*/}}
{{- define "kubevirt-vhostuser.selfSignedTLS" -}}
{{- $cfg := .Values.tls.selfSigned }}
{{- $dnsNames := include "kubevirt-vhostuser.dnsNames" . | fromYamlArray }}
{{- $sans := join "," $dnsNames }}
{{- $now := now | unixEpoch | int64 }}
{{- $existing := lookup "v1" "Secret" .Release.Namespace (include "kubevirt-vhostuser.tlsSecretName" .) }}
{{- $data := dict }}
{{- $ann := dict }}
{{- if $existing }}
{{- $data = $existing.data | default dict }}
{{- $ann = $existing.metadata.annotations | default dict }}
{{- end }}
{{- $oldCA := index $data "ca.crt" | default "" }}
{{- $notAfter := index $ann "kubevirt-vhostuser.io/not-after" | default "0" | int64 }}
{{- $renewAt := sub $notAfter (mul (int64 $cfg.renewBeforeDays) 86400) }}
{{- $complete := and (index $data "tls.crt") (index $data "tls.key") $oldCA }}
{{- $sameNames := eq (index $ann "kubevirt-vhostuser.io/dns-names" | default "") $sans }}
{{- if and $complete $sameNames (lt $now $renewAt) }}
ca: {{ $oldCA }}
cert: {{ index $data "tls.crt" }}
key: {{ index $data "tls.key" }}
caBundle: {{ $oldCA }}
notAfter: {{ $notAfter }}
{{- else }}
{{- $days := int $cfg.validityDays }}
{{- $ca := genCA (printf "%s-ca" (include "kubevirt-vhostuser.fullname" .)) $days }}
{{- $cert := genSignedCert (index $dnsNames 2) nil $dnsNames $days $ca }}
{{- $bundle := $ca.Cert }}
{{- if $oldCA }}
{{- $bundle = printf "%s\n%s" (trimSuffix "\n" $ca.Cert) (b64dec $oldCA) }}
{{- end }}
ca: {{ $ca.Cert | b64enc }}
cert: {{ $cert.Cert | b64enc }}
key: {{ $cert.Key | b64enc }}
caBundle: {{ $bundle | b64enc }}
notAfter: {{ add $now (mul $days 86400) }}
{{- end }}
dnsNames: {{ $sans | quote }}
{{- end }}
