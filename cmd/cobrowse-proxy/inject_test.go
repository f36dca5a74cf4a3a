package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	"sigs.k8s.io/yaml"

	"github.com/cobrowse-proxy/cobrowse-proxy/internal/sidecar"
)

// proxyYAML is the proxy container as inject writes it (keys sorted by
// sigs.k8s.io/yaml), indented for a pod template's containers list.
const proxyYAML = `      - args:
        - run
        env:
        - name: COBROWSE_PROXY_UPSTREAM
          value: http://127.0.0.1:3000
        image: ghcr.io/cobrowse-proxy/cobrowse-proxy:latest
        livenessProbe:
          failureThreshold: 3
          httpGet:
            path: /healthz
            port: 9480
            scheme: HTTP
          periodSeconds: 10
          successThreshold: 1
          timeoutSeconds: 1
        name: cobrowse-proxy
        ports:
        - containerPort: 8480
          name: http
          protocol: TCP
        - containerPort: 9480
          name: cobrowse-admin
          protocol: TCP
        readinessProbe:
          failureThreshold: 3
          httpGet:
            path: /readyz
            port: 9480
            scheme: HTTP
          periodSeconds: 5
          successThreshold: 1
          timeoutSeconds: 1
        resources:
          limits:
            memory: 128Mi
          requests:
            cpu: 10m
            memory: 32Mi
        securityContext:
          allowPrivilegeEscalation: false
          capabilities:
            drop:
            - ALL
          readOnlyRootFilesystem: true
          runAsGroup: 65532
          runAsNonRoot: true
          runAsUser: 65532
          seccompProfile:
            type: RuntimeDefault
        volumeMounts:
        - mountPath: /etc/cobrowse-proxy
          name: cobrowse-proxy
          readOnly: true
`

const volumeYAML = `      volumes:
      - name: cobrowse-proxy
        projected:
          defaultMode: 292
          sources:
          - configMap:
              items:
              - key: config.yaml
                path: config.yaml
              name: cobrowse-proxy
          - secret:
              items:
              - key: sdk-secret
                path: secret/sdk-secret
              name: cobrowse-proxy-sdk
`

func TestInjectManifests(t *testing.T) {
	service := `apiVersion: v1
kind: Service
metadata: {name: shop}   # kept exactly as written
spec:
  ports: [{port: 80, targetPort: http}]
`
	tests := []struct {
		name, in, want string
		reports        []string
	}{
		{
			name: "deployment and service: template injected, service untouched",
			in: `# shop
apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
spec:
  selector: {matchLabels: {app: shop}}
  template:
    metadata:
      labels: {app: shop}
    spec:
      futureField: kept
      containers:
      - name: app
        image: shop:1
        ports:
        - {name: http, containerPort: 3000}
---
` + service,
			want: `apiVersion: apps/v1
kind: Deployment
metadata:
  name: shop
spec:
  selector:
    matchLabels:
      app: shop
  template:
    metadata:
      annotations:
        cobrowse-proxy.io/status: injected
      labels:
        app: shop
    spec:
      containers:
      - image: shop:1
        name: app
        ports:
        - containerPort: 3000
          name: http-app
` + proxyYAML + `      futureField: kept
` + volumeYAML + `---
` + service,
			reports: []string{"deployment/shop: injected"},
		},
		{
			name: "cronjob: the job template's pod template, native sidecar by annotation",
			in: `apiVersion: batch/v1
kind: CronJob
metadata: {name: report}
spec:
  schedule: "@daily"
  jobTemplate:
    spec:
      template:
        metadata:
          annotations: {cobrowse-proxy.io/native-sidecar: "true"}
        spec:
          restartPolicy: OnFailure
          containers:
          - name: app
            image: r:1
            ports: [{name: http, containerPort: 3000}]
`,
			reports: []string{"cronjob/report: injected"},
		},
		{
			name: "opted out, and a ConfigMap: both unchanged, as written",
			in: `apiVersion: v1
kind: Pod
metadata:
  name: p
  annotations: {cobrowse-proxy.io/inject: "false"}
spec:
  containers: [{name: app, image: a, ports: [{name: http, containerPort: 3000}]}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: c}
data: {k: v}
`,
			want: `apiVersion: v1
kind: Pod
metadata:
  name: p
  annotations: {cobrowse-proxy.io/inject: "false"}
spec:
  containers: [{name: app, image: a, ports: [{name: http, containerPort: 3000}]}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: c}
data: {k: v}
`,
			reports: []string{`pod/p: opted out by annotation cobrowse-proxy.io/inject: "false"`},
		},
		{
			name: "numeric port: status advice on the template",
			in: `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  template:
    spec:
      containers: [{name: app, image: a, ports: [{containerPort: 3000}]}]
`,
			want: `apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
spec:
  template:
    metadata:
      annotations:
        cobrowse-proxy.io/status: 'not injected: no container has a TCP port named
          "http" to take over; name the app''s port (name: http, containerPort: 3000)
          and change the Service''s targetPort: 3000 to targetPort: http, so traffic
          goes to the proxy (a numeric targetPort would bypass it)'
    spec:
      containers:
      - image: a
        name: app
        ports:
        - containerPort: 3000
`,
			reports: []string{`statefulset/db: not injected: no container has a TCP port named "http" to take over; name the app's port (name: http, containerPort: 3000) and change the Service's targetPort: 3000 to targetPort: http, so traffic goes to the proxy (a numeric targetPort would bypass it)`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, reports, err := injectManifests([]byte(tt.in), sidecar.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if tt.want != "" && string(out) != tt.want {
				t.Errorf("output:\n%s\nwant:\n%s", out, tt.want)
			}
			if strings.Join(reports, "\n") != strings.Join(tt.reports, "\n") {
				t.Errorf("reports %q, want %q", reports, tt.reports)
			}
			// Idempotent: injecting the output again changes nothing.
			again, _, err := injectManifests(out, sidecar.Options{})
			if err != nil || string(again) != string(out) {
				t.Errorf("second inject changed the output (%v):\n%s", err, again)
			}
		})
	}
}

// TestInjectCronJobNative checks where the native sidecar lands in a
// CronJob: the pod template's init containers, restartPolicy Always.
func TestInjectCronJobNative(t *testing.T) {
	in := `apiVersion: batch/v1
kind: CronJob
metadata: {name: report}
spec:
  schedule: "@daily"
  jobTemplate:
    spec:
      template:
        metadata:
          annotations: {cobrowse-proxy.io/native-sidecar: "true"}
        spec:
          restartPolicy: OnFailure
          containers:
          - {name: app, image: r:1, ports: [{name: http, containerPort: 3000}]}
`
	out, _, err := injectManifests([]byte(in), sidecar.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var cj batchv1.CronJob
	if err := yaml.UnmarshalStrict(out, &cj); err != nil {
		t.Fatal(err)
	}
	spec := cj.Spec.JobTemplate.Spec.Template.Spec
	if len(spec.InitContainers) != 1 || spec.InitContainers[0].Name != "cobrowse-proxy" ||
		spec.InitContainers[0].RestartPolicy == nil || *spec.InitContainers[0].RestartPolicy != "Always" ||
		len(spec.Containers) != 1 || spec.Containers[0].Ports[0].Name != "http-app" || spec.RestartPolicy != "OnFailure" {
		t.Errorf("native sidecar not in jobTemplate's initContainers:\n%s", out)
	}
}

// TestInjectCommand: -f FILE and -f - (stdin), reports on stderr.
func TestInjectCommand(t *testing.T) {
	in := "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: app, image: a, ports: [{name: http, containerPort: 3000}]}]\n"
	file := filepath.Join(t.TempDir(), "pod.yaml")
	if err := os.WriteFile(file, []byte(in), 0o600); err != nil {
		t.Fatal(err)
	}
	var fromFile, fromStdin, stderr bytes.Buffer
	if err := cmdInject([]string{"-f", file}, nil, &fromFile, &stderr); err != nil {
		t.Fatal(err)
	}
	if err := cmdInject([]string{"-f", "-", "-image", "reg.local/cbp:1"}, strings.NewReader(in), &fromStdin, &stderr); err != nil {
		t.Fatal(err)
	}
	if stderr.String() != "pod/p: injected\npod/p: injected\n" {
		t.Errorf("stderr %q", stderr.String())
	}
	if !strings.Contains(fromFile.String(), "image: ghcr.io/cobrowse-proxy/cobrowse-proxy:latest") ||
		!strings.Contains(fromStdin.String(), "image: reg.local/cbp:1") {
		t.Errorf("outputs:\n%s\n%s", fromFile.String(), fromStdin.String())
	}
	var so, se bytes.Buffer
	if code := runMain([]string{"inject"}, &so, &se); code != 2 || !strings.Contains(se.String(), "-f is required") {
		t.Errorf("no -f: exit %d %q", code, se.String())
	}
	if code := runMain([]string{"inject", "-f", filepath.Join(t.TempDir(), "none.yaml")}, &so, &se); code != 1 {
		t.Errorf("missing file: exit %d", code)
	}
}
