{{/* Names, labels and cross-value checks shared by every template. */}}

{{- define "kubevirt-vhostuser.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Resource name prefix; 63 characters at most because it also names the Service (DNS label). */}}
{{- define "kubevirt-vhostuser.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "kubevirt-vhostuser.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "kubevirt-vhostuser.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kubevirt-vhostuser.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: webhook
{{- end }}

{{- define "kubevirt-vhostuser.labels" -}}
helm.sh/chart: {{ include "kubevirt-vhostuser.chart" . }}
{{ include "kubevirt-vhostuser.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: kubevirt-vhostuser
{{- end }}

{{- define "kubevirt-vhostuser.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "kubevirt-vhostuser.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret holding tls.crt and tls.key, whichever tls.mode fills it. */}}
{{- define "kubevirt-vhostuser.tlsSecretName" -}}
{{- if eq .Values.tls.mode "secret" }}
{{- .Values.tls.secret.name }}
{{- else }}
{{- printf "%s-tls" (include "kubevirt-vhostuser.fullname" .) }}
{{- end }}
{{- end }}

{{/* DNS names the API server may use for the Service; the serving certificate covers them all. */}}
{{- define "kubevirt-vhostuser.dnsNames" -}}
{{- $svc := include "kubevirt-vhostuser.fullname" . }}
{{- $ns := .Release.Namespace -}}
- {{ $svc }}
- {{ printf "%s.%s" $svc $ns }}
- {{ printf "%s.%s.svc" $svc $ns }}
- {{ printf "%s.%s.svc.cluster.local" $svc $ns }}
{{- end }}

{{- define "kubevirt-vhostuser.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
Checks that span several values, which values.schema.json (draft-07) cannot express. Included by
the Deployment so that every render runs them.
*/}}
{{- define "kubevirt-vhostuser.validate" -}}
{{- $w := .Values.webhook }}
{{- if gt (add (int $w.lookupTimeoutMs) 1000) (mul (int $w.timeoutSeconds) 1000) }}
{{- fail (printf "webhook.lookupTimeoutMs (%d) must be at least 1000 ms below webhook.timeoutSeconds (%d s): the webhook has to answer before the API server gives up on it" (int $w.lookupTimeoutMs) (int $w.timeoutSeconds)) }}
{{- end }}
{{- if and $w.metricsPort (eq (int $w.metricsPort) (int $w.port)) }}
{{- fail (printf "webhook.metricsPort (%d) must differ from webhook.port: set another port, or 0 to serve /metrics on webhook.port" (int $w.metricsPort)) }}
{{- end }}
{{- if lt (int $w.maxInflightBodyBytes) (int $w.bodyLimitBytes) }}
{{- fail (printf "webhook.maxInflightBodyBytes (%d) must be at least webhook.bodyLimitBytes (%d): a review of the largest accepted size could never be held" (int $w.maxInflightBodyBytes) (int $w.bodyLimitBytes)) }}
{{- end }}
{{- /* The webhook refuses this at start-up too; failing here keeps it from crash-looping. */}}
{{- $ovs := $w.volumes.ovsRunDir }}
{{- if not $ovs.writable }}
{{- $prefix := printf "%s/" (regexReplaceAll "/+$" $ovs.mountPath "") }}
{{- range .Values.sidecar.socketDirs }}
{{- if hasPrefix $prefix (printf "%s/" (regexReplaceAll "/+$" . "")) }}
{{- fail (printf "sidecar.socketDirs entry %q is inside webhook.volumes.ovsRunDir.mountPath (%s), which compute mounts read-only, so QEMU could not create its sockets there: pick another directory or set webhook.volumes.ovsRunDir.writable (see docs/threat-model.md)" . $ovs.mountPath) }}
{{- end }}
{{- end }}
{{- end }}
{{- if and (eq .Values.tls.mode "selfSigned") (ge (int .Values.tls.selfSigned.renewBeforeDays) (int .Values.tls.selfSigned.validityDays)) }}
{{- fail (printf "tls.selfSigned.renewBeforeDays (%d) must be below tls.selfSigned.validityDays (%d), or every upgrade regenerates the certificate" (int .Values.tls.selfSigned.renewBeforeDays) (int .Values.tls.selfSigned.validityDays)) }}
{{- end }}
{{- end }}

{{/*
"true" when the MutatingWebhookConfiguration gets matchConditions: forced by
webhook.matchConditions, or on "auto" when the cluster is Kubernetes >= 1.28 (beta, on by default).
*/}}
{{- define "kubevirt-vhostuser.matchConditions" -}}
{{- $v := .Values.webhook.matchConditions -}}
{{- if eq (toString $v) "auto" -}}
{{- if semverCompare ">=1.28-0" .Capabilities.KubeVersion.Version -}}true{{- end -}}
{{- else if $v -}}true{{- end -}}
{{- end }}
