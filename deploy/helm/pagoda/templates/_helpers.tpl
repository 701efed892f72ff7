{{/* Names and labels shared by every template. */}}
{{- define "pagoda.fullname" -}}
{{- if contains .Chart.Name .Release.Name }}{{ .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}{{ printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}{{ end }}
{{- end }}

{{- define "pagoda.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "pagoda.labels" -}}
{{ include "pagoda.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end }}

{{/* --tp: every GPU of every node in the group. */}}
{{- define "pagoda.tp" -}}
{{- if gt (int .Values.gpusPerNode) 0 }}
{{- mul (int .Values.gpusPerNode) (ternary (int .Values.multinode.nodes) 1 .Values.multinode.enabled) }}
{{- else }}{{ int .Values.cpuTensorParallelSize }}{{ end }}
{{- end }}

{{- define "pagoda.modelClaim" -}}
{{ .Values.model.volume.claimName | default (printf "%s-models" (include "pagoda.fullname" .)) }}
{{- end }}

{{- define "pagoda.authSecret" -}}
{{ .Values.auth.existingSecret | default (printf "%s-api-keys" (include "pagoda.fullname" .)) }}
{{- end }}

{{/* `pagoda serve` flags (the image's entrypoint). */}}
{{- define "pagoda.args" -}}
- --model={{ .Values.model.path }}
- --served-model-name={{ .Values.model.servedName }}
- --host=0.0.0.0
- --grpc-port={{ .Values.ports.grpc }}
- --http-port={{ .Values.ports.http }}
- --metrics-port={{ .Values.ports.metrics }}
- --device={{ .Values.device }}
- --tp={{ include "pagoda.tp" . }}
{{- if .Values.multinode.enabled }}
- --nnodes=$(LWS_GROUP_SIZE)
- --node-rank=$(LWS_WORKER_INDEX)
- --leader-address=$(LWS_LEADER_ADDRESS)
- --leader-port={{ .Values.multinode.leaderPort }}
{{- end }}
{{- with .Values.engine }}
{{- if .kvCacheBytes }}
- --kv-cache-bytes={{ int64 .kvCacheBytes }}
{{- end }}
{{- if .gpuMemoryUtilization }}
- --gpu-memory-utilization={{ .gpuMemoryUtilization }}
{{- end }}
{{- if .maxModelLen }}
- --max-model-len={{ .maxModelLen }}
{{- end }}
- --max-num-seqs={{ .maxNumSeqs }}
{{- end }}
{{- if .Values.auth.enabled }}
- --api-key-file=/etc/pagoda/keys/api-keys
{{- end }}
{{- if .Values.tls.enabled }}
- --tls-cert=/etc/pagoda/tls/tls.crt
- --tls-key=/etc/pagoda/tls/tls.key
{{- end }}
- --shutdown-timeout={{ .Values.shutdown.timeoutSeconds }}
- --log-format=json
{{- range .Values.engine.extraArgs }}
- {{ . }}
{{- end }}
{{- end }}

{{/* The pod spec of a serving pod; "leader" true: it serves the APIs. */}}
{{- define "pagoda.podSpec" -}}
{{- $root := .root }}
{{- with $root.Values }}
terminationGracePeriodSeconds: {{ add .shutdown.preStopSleepSeconds .shutdown.timeoutSeconds 20 }}
securityContext: {runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, fsGroup: 10001}
{{- with .imagePullSecrets }}
imagePullSecrets: {{ toYaml . | nindent 2 }}
{{- end }}
{{- with .nodeSelector }}
nodeSelector: {{ toYaml . | nindent 2 }}
{{- end }}
{{- with .tolerations }}
tolerations: {{ toYaml . | nindent 2 }}
{{- end }}
{{- with .affinity }}
affinity: {{ toYaml . | nindent 2 }}
{{- end }}
{{- if .model.download.enabled }}
initContainers:
  - name: model-download
    image: {{ .model.download.image }}
    command: ["sh", "-c"]
    args:
      - test -f "$MODEL_PATH/config.json" || (pip install --no-cache-dir --target /tmp/py huggingface_hub &&
        PYTHONPATH=/tmp/py python -c 'import os, huggingface_hub as h;
        h.snapshot_download(os.environ["MODEL_REPO"], local_dir=os.environ["MODEL_PATH"])')
    env:
      - {name: MODEL_REPO, value: {{ .model.download.repo | quote }}}
      - {name: MODEL_PATH, value: {{ .model.path | quote }}}
      - {name: HOME, value: /tmp}
      {{- if .model.download.tokenSecret }}
      - name: HF_TOKEN
        valueFrom: {secretKeyRef: {name: {{ .model.download.tokenSecret }}, key: token}}
      {{- end }}
    volumeMounts:
      - {name: models, mountPath: /models}
      - {name: tmp, mountPath: /tmp}
{{- end }}
containers:
  - name: pagoda
    image: "{{ .image.repository }}:{{ .image.tag }}"
    imagePullPolicy: {{ .image.pullPolicy }}
    args:
      {{- include "pagoda.args" $root | nindent 6 }}
    ports:
      {{- if $.leader }}
      - {name: grpc, containerPort: {{ .ports.grpc }}}
      - {name: http, containerPort: {{ .ports.http }}}
      {{- end }}
      - {name: metrics, containerPort: {{ .ports.metrics }}}
      {{- if .multinode.enabled }}
      - {name: leader, containerPort: {{ .multinode.leaderPort }}}
      {{- end }}
    resources:
      requests: {{ toYaml .resources.requests | nindent 8 }}
        {{- if gt (int .gpusPerNode) 0 }}
        nvidia.com/gpu: {{ .gpusPerNode }}
        {{- end }}
      limits: {{ toYaml .resources.limits | nindent 8 }}
        {{- if gt (int .gpusPerNode) 0 }}
        nvidia.com/gpu: {{ .gpusPerNode }}
        {{- end }}
    {{- if $.leader }}
    {{- $scheme := ternary "HTTPS" "HTTP" .tls.enabled }}
    startupProbe:
      httpGet: {path: /health, port: http, scheme: {{ $scheme }}}
      periodSeconds: 10
      failureThreshold: {{ div .startup.budgetSeconds 10 }}
    readinessProbe:
      httpGet: {path: /health, port: http, scheme: {{ $scheme }}}
      periodSeconds: 5
      failureThreshold: 2
    {{- end }}
    livenessProbe:
      httpGet: {path: /metrics, port: metrics}
      periodSeconds: 15
      timeoutSeconds: 5
      failureThreshold: 4
    lifecycle:
      preStop:
        exec:
          command: ["sleep", "{{ .shutdown.preStopSleepSeconds }}"]
    securityContext:
      allowPrivilegeEscalation: false
      readOnlyRootFilesystem: true
      capabilities: {drop: [ALL]}
    volumeMounts:
      - {name: models, mountPath: /models, readOnly: true}
      - {name: dshm, mountPath: /dev/shm}
      - {name: tmp, mountPath: /tmp}
      {{- if .auth.enabled }}
      - {name: api-keys, mountPath: /etc/pagoda/keys, readOnly: true}
      {{- end }}
      {{- if .tls.enabled }}
      - {name: tls, mountPath: /etc/pagoda/tls, readOnly: true}
      {{- end }}
volumes:
  {{- if eq .model.volume.type "pvc" }}
  - name: models
    persistentVolumeClaim: {claimName: {{ include "pagoda.modelClaim" $root }}}
  {{- else }}
  - name: models
    emptyDir: {}
  {{- end }}
  - name: dshm
    emptyDir: {medium: Memory, sizeLimit: {{ .shmSize }}}
  - name: tmp
    emptyDir: {sizeLimit: 1Gi}
  {{- if .auth.enabled }}
  - name: api-keys
    secret: {secretName: {{ include "pagoda.authSecret" $root }}}
  {{- end }}
  {{- if .tls.enabled }}
  - name: tls
    secret: {secretName: {{ required "tls.existingSecret is required when tls.enabled" .tls.existingSecret }}}
  {{- end }}
{{- end }}
{{- end }}
