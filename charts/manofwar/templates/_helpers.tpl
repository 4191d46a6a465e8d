{{/* Chart name, truncated to a label's 63 characters. */}}
{{- define "manofwar.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name of the release's objects. */}}
{{- define "manofwar.fullname" -}}
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

{{/* Labels on every object of the release. */}}
{{- define "manofwar.commonLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "manofwar.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: manofwar
{{- end }}

{{/* Labels on the operator's objects. */}}
{{- define "manofwar.labels" -}}
{{ include "manofwar.commonLabels" . }}
app.kubernetes.io/component: operator
{{- end }}

{{/* Labels that select the operator's pods. */}}
{{- define "manofwar.selectorLabels" -}}
app.kubernetes.io/name: {{ include "manofwar.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{/* Labels on the hub's objects (the front door, `manofwar hub`). */}}
{{- define "manofwar.hub.labels" -}}
{{ include "manofwar.commonLabels" . }}
app.kubernetes.io/component: hub
{{- end }}

{{/* Labels that select the hub's pods: never the operator's (component differs). The
     operator's NetworkPolicies admit pods labelled app.kubernetes.io/component=hub. */}}
{{- define "manofwar.hub.selectorLabels" -}}
app.kubernetes.io/name: {{ include "manofwar.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: hub
{{- end }}

{{/* The hub's name, and the prefix of its objects' names. */}}
{{- define "manofwar.hub.fullname" -}}
{{- printf "%s-hub" (include "manofwar.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The Secret with the initial admin's username and password. */}}
{{- define "manofwar.hub.initialAdminSecret" -}}
{{- default (printf "%s-initial-admin" (include "manofwar.fullname" .)) .Values.hub.initialAdmin.existingSecret }}
{{- end }}

{{/* The image of the data plane (`manofwar`): the pods the operator creates, and the hub. */}}
{{- define "manofwar.dataPlaneImage" -}}
{{- default (include "manofwar.image" .) .Values.operator.dataPlaneImage }}
{{- end }}

{{/* The operator's ServiceAccount. */}}
{{- define "manofwar.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "manofwar.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The image, by digest when one is given. */}}
{{- define "manofwar.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}
