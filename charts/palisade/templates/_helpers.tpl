{{/*
Names and labels shared by every template. Object names are "<fullname>" or "<fullname>-<part>";
Kubernetes limits most names to 63 characters, so every name is truncated there.
*/}}

{{/* The chart name, or nameOverride. */}}
{{- define "palisade.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* "<release>-palisade", the release name alone when it contains the chart name, or fullnameOverride. */}}
{{- define "palisade.fullname" -}}
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

{{/* "<name>-<version>" for the helm.sh/chart label. */}}
{{- define "palisade.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object the chart creates. */}}
{{- define "palisade.labels" -}}
helm.sh/chart: {{ include "palisade.chart" . }}
{{ include "palisade.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: palisade
{{- end }}

{{/* Labels that identify the release (selectors must not change across upgrades: no version here). */}}
{{- define "palisade.selectorLabels" -}}
app.kubernetes.io/name: {{ include "palisade.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Selector of the operator pods. */}}
{{- define "palisade.operator.selectorLabels" -}}
{{ include "palisade.selectorLabels" . }}
app.kubernetes.io/component: operator
{{- end }}

{{/* Labels of operator objects. */}}
{{- define "palisade.operator.labels" -}}
{{ include "palisade.labels" . }}
app.kubernetes.io/component: operator
{{- end }}

{{/* Name of the operator Deployment, ServiceAccount and RBAC objects. */}}
{{- define "palisade.operator.name" -}}
{{- printf "%s-operator" (include "palisade.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* "<repository>:<tag>" of an image block, falling back to image.tag and the appVersion. */}}
{{- define "palisade.image" -}}
{{- $root := index . 0 }}{{- $image := index . 1 }}
{{- printf "%s:%s" $image.repository (default (default $root.Chart.AppVersion $root.Values.image.tag) $image.tag) }}
{{- end }}

{{/* Pull policy of an image block, falling back to image.pullPolicy. */}}
{{- define "palisade.pullPolicy" -}}
{{- $root := index . 0 }}{{- $image := index . 1 }}
{{- default $root.Values.image.pullPolicy $image.pullPolicy }}
{{- end }}

{{/* Name of the Secret holding the webhook's TLS key pair. */}}
{{- define "palisade.webhook.certSecretName" -}}
{{- default (printf "%s-webhook-cert" (include "palisade.fullname" .)) .Values.webhook.certSecretName | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Name of the webhook Service (its DNS name is in the certificate). */}}
{{- define "palisade.webhook.serviceName" -}}
{{- printf "%s-webhook" (include "palisade.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Name of the MutatingWebhookConfiguration (cluster-scoped, so it carries the release namespace). */}}
{{- define "palisade.webhook.configurationName" -}}
{{- printf "%s-%s" (include "palisade.fullname" .) .Release.Namespace | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Name of the ClusterRole that sidecars are bound to, per namespace, by the operator. */}}
{{- define "palisade.sidecar.clusterRoleName" -}}
{{- printf "%s-%s-sidecar" (include "palisade.fullname" .) .Release.Namespace | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Name of cluster-scoped operator RBAC objects (unique per release namespace). */}}
{{- define "palisade.operator.clusterRoleName" -}}
{{- printf "%s-%s-operator" (include "palisade.fullname" .) .Release.Namespace | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Name of the ConfigMap holding the installation settings the operator compiles into sidecar configs. */}}
{{- define "palisade.operator.configName" -}}
{{- printf "%s-config" (include "palisade.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Name of the in-cluster Redis Deployment and Service. */}}
{{- define "palisade.redis.name" -}}
{{- printf "%s-redis" (include "palisade.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The Redis URL sidecars use: redis.url, else the in-cluster Redis when installed, else empty. */}}
{{- define "palisade.redis.url" -}}
{{- if .Values.redis.url }}
{{- .Values.redis.url }}
{{- else if .Values.redis.install }}
{{- printf "redis://%s.%s.svc:6379" (include "palisade.redis.name" .) .Release.Namespace }}
{{- end }}
{{- end }}

{{/* Namespace the helm test target pods run in (labelled for injection; the release namespace is excluded). */}}
{{- define "palisade.tests.namespace" -}}
{{- printf "%s-test" .Release.Namespace | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Image of the helm test pods. */}}
{{- define "palisade.tests.image" -}}
{{- default (include "palisade.image" (list . .Values.operator.image)) .Values.tests.image }}
{{- end }}

{{/* Security context of every container the chart runs (restricted Pod Security Standard). */}}
{{- define "palisade.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end }}
