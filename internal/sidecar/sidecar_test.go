package sidecar

import (
	"encoding/json"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func ptr[T any](v T) *T { return &v }

// app is the pod every case starts from: one app container with a port
// named http and a readiness probe on it.
func app(ann map[string]string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "shop", Namespace: "shop", Annotations: ann},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{
				Name:  "app",
				Image: "shop:1",
				Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 3000, Protocol: corev1.ProtocolTCP}},
				ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
					HTTPGet: &corev1.HTTPGetAction{Path: "/up", Port: intstr.FromString("http")},
				}},
			}},
			Volumes: []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
		},
	}
}

// proxyContainer is the container expected for upstream port 3000,
// written out literally so that a change to Container shows here.
func proxyContainer(portName string) corev1.Container {
	return corev1.Container{
		Name:  "cobrowse-proxy",
		Image: "ghcr.io/cobrowse-proxy/cobrowse-proxy:latest",
		Args:  []string{"run"},
		Ports: []corev1.ContainerPort{
			{Name: portName, ContainerPort: 8480, Protocol: "TCP"},
			{Name: "cobrowse-admin", ContainerPort: 9480, Protocol: "TCP"},
		},
		Env: []corev1.EnvVar{{Name: "COBROWSE_PROXY_UPSTREAM", Value: "http://127.0.0.1:3000"}},
		Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{"cpu": resource.MustParse("10m"), "memory": resource.MustParse("32Mi")},
			Limits:   corev1.ResourceList{"memory": resource.MustParse("128Mi")},
		},
		VolumeMounts: []corev1.VolumeMount{{Name: "cobrowse-proxy", MountPath: "/etc/cobrowse-proxy", ReadOnly: true}},
		ReadinessProbe: &corev1.Probe{
			ProbeHandler:   corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/readyz", Port: intstr.FromInt32(9480), Scheme: "HTTP"}},
			TimeoutSeconds: 1, PeriodSeconds: 5, SuccessThreshold: 1, FailureThreshold: 3,
		},
		LivenessProbe: &corev1.Probe{
			ProbeHandler:   corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromInt32(9480), Scheme: "HTTP"}},
			TimeoutSeconds: 1, PeriodSeconds: 10, SuccessThreshold: 1, FailureThreshold: 3,
		},
		SecurityContext: &corev1.SecurityContext{
			RunAsNonRoot:             ptr(true),
			RunAsUser:                ptr(int64(65532)),
			RunAsGroup:               ptr(int64(65532)),
			ReadOnlyRootFilesystem:   ptr(true),
			AllowPrivilegeEscalation: ptr(false),
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			SeccompProfile:           &corev1.SeccompProfile{Type: "RuntimeDefault"},
		},
	}
}

func proxyVolume(cm, secret string) corev1.Volume {
	return corev1.Volume{Name: "cobrowse-proxy", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
		DefaultMode: ptr(int32(0o444)),
		Sources: []corev1.VolumeProjection{
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: cm},
				Items: []corev1.KeyToPath{{Key: "config.yaml", Path: "config.yaml"}}}},
			{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: secret},
				Items: []corev1.KeyToPath{{Key: "sdk-secret", Path: "secret/sdk-secret"}}}},
		},
	}}}
}

// injected is app(ann) after a successful Mutate with default options.
func injected(ann map[string]string, cm, secret string) *corev1.Pod {
	p := app(ann)
	p.Annotations["cobrowse-proxy.io/status"] = "injected"
	p.Spec.Containers[0].Ports[0].Name = "http-app"
	p.Spec.Containers[0].ReadinessProbe.HTTPGet.Port = intstr.FromString("http-app")
	p.Spec.Containers = append(p.Spec.Containers, proxyContainer("http"))
	p.Spec.Volumes = append(p.Spec.Volumes, proxyVolume(cm, secret))
	return p
}

func withStatus(p *corev1.Pod, s string) *corev1.Pod {
	if p.Annotations == nil {
		p.Annotations = map[string]string{}
	}
	p.Annotations["cobrowse-proxy.io/status"] = s
	return p
}

func TestMutate(t *testing.T) {
	on := map[string]string{"cobrowse-proxy.io/inject": "enabled"}
	tests := []struct {
		name     string
		pod      *corev1.Pod
		req      Request
		opts     Options
		want     *corev1.Pod
		decision Decision
	}{
		{
			name:     "annotation opts in",
			pod:      app(map[string]string{"cobrowse-proxy.io/inject": "true"}),
			req:      Request{Namespace: "shop"},
			want:     injected(map[string]string{"cobrowse-proxy.io/inject": "true"}, "cobrowse-proxy", "cobrowse-proxy-sdk"),
			decision: DecisionInjected,
		},
		{
			name:     "namespace label opts in",
			pod:      app(nil),
			req:      Request{Namespace: "shop", NamespaceLabels: on},
			want:     injected(map[string]string{}, "cobrowse-proxy", "cobrowse-proxy-sdk"),
			decision: DecisionInjected,
		},
		{
			name:     "neither asks: unchanged, no annotation",
			pod:      app(nil),
			req:      Request{Namespace: "shop", NamespaceLabels: map[string]string{"cobrowse-proxy.io/inject": "disabled"}},
			want:     app(nil),
			decision: DecisionNotRequested,
		},
		{
			name:     "opt-out annotation wins over the namespace",
			pod:      app(map[string]string{"cobrowse-proxy.io/inject": "false"}),
			req:      Request{Namespace: "shop", NamespaceLabels: on},
			want:     app(map[string]string{"cobrowse-proxy.io/inject": "false"}),
			decision: DecisionOptedOut,
		},
		{
			name:     "kube-system is never injected",
			pod:      app(map[string]string{"cobrowse-proxy.io/inject": "true"}),
			req:      Request{Namespace: "kube-system", NamespaceLabels: on},
			want:     app(map[string]string{"cobrowse-proxy.io/inject": "true"}),
			decision: DecisionExcludedNamespace,
		},
		{
			name:     "the webhook's namespace is never injected",
			pod:      app(map[string]string{"cobrowse-proxy.io/inject": "true"}),
			req:      Request{Namespace: "cobrowse-proxy-system"},
			opts:     Options{ExcludedNamespaces: []string{"cobrowse-proxy-system"}},
			want:     app(map[string]string{"cobrowse-proxy.io/inject": "true"}),
			decision: DecisionExcludedNamespace,
		},
		{
			name:     "already injected: left alone",
			pod:      injected(map[string]string{"cobrowse-proxy.io/inject": "true"}, "cobrowse-proxy", "cobrowse-proxy-sdk"),
			req:      Request{Namespace: "shop"},
			want:     injected(map[string]string{"cobrowse-proxy.io/inject": "true"}, "cobrowse-proxy", "cobrowse-proxy-sdk"),
			decision: DecisionAlreadyInjected,
		},
		{
			name: "annotations name the ConfigMap and Secret",
			pod: app(map[string]string{"cobrowse-proxy.io/inject": "true",
				"cobrowse-proxy.io/config": "shop-proxy", "cobrowse-proxy.io/secret": "shop-sdk"}),
			req: Request{Namespace: "shop"},
			want: injected(map[string]string{"cobrowse-proxy.io/inject": "true",
				"cobrowse-proxy.io/config": "shop-proxy", "cobrowse-proxy.io/secret": "shop-sdk"}, "shop-proxy", "shop-sdk"),
			decision: DecisionInjected,
		},
		{
			name: "native sidecar by annotation",
			pod:  app(map[string]string{"cobrowse-proxy.io/inject": "true", "cobrowse-proxy.io/native-sidecar": "true"}),
			req:  Request{Namespace: "shop"},
			want: func() *corev1.Pod {
				p := app(map[string]string{"cobrowse-proxy.io/inject": "true", "cobrowse-proxy.io/native-sidecar": "true",
					"cobrowse-proxy.io/status": "injected"})
				p.Spec.Containers[0].Ports[0].Name = "http-app"
				p.Spec.Containers[0].ReadinessProbe.HTTPGet.Port = intstr.FromString("http-app")
				c := proxyContainer("http")
				c.RestartPolicy = ptr(corev1.ContainerRestartPolicyAlways)
				p.Spec.InitContainers = []corev1.Container{c}
				p.Spec.Volumes = append(p.Spec.Volumes, proxyVolume("cobrowse-proxy", "cobrowse-proxy-sdk"))
				return p
			}(),
			decision: DecisionInjected,
		},
		{
			name: "annotation names another port",
			pod: func() *corev1.Pod {
				p := app(map[string]string{"cobrowse-proxy.io/inject": "true", "cobrowse-proxy.io/port": "web"})
				p.Spec.Containers[0].Ports[0].Name = "web"
				p.Spec.Containers[0].ReadinessProbe = nil
				return p
			}(),
			req: Request{Namespace: "shop"},
			want: func() *corev1.Pod {
				p := app(map[string]string{"cobrowse-proxy.io/inject": "true", "cobrowse-proxy.io/port": "web",
					"cobrowse-proxy.io/status": "injected"})
				p.Spec.Containers[0].Ports[0].Name = "web-app"
				p.Spec.Containers[0].ReadinessProbe = nil
				p.Spec.Containers = append(p.Spec.Containers, proxyContainer("web"))
				p.Spec.Volumes = append(p.Spec.Volumes, proxyVolume("cobrowse-proxy", "cobrowse-proxy-sdk"))
				return p
			}(),
			decision: DecisionInjected,
		},
		{
			name: "unnamed port: status says to name it and change the numeric targetPort",
			pod: func() *corev1.Pod {
				p := app(map[string]string{"cobrowse-proxy.io/inject": "true"})
				p.Spec.Containers[0].Ports[0].Name = ""
				return p
			}(),
			req: Request{Namespace: "shop"},
			want: func() *corev1.Pod {
				p := withStatus(app(map[string]string{"cobrowse-proxy.io/inject": "true"}),
					`not injected: no container has a TCP port named "http" to take over; name the app's port (name: http, containerPort: 3000) and change the Service's targetPort: 3000 to targetPort: http, so traffic goes to the proxy (a numeric targetPort would bypass it)`)
				p.Spec.Containers[0].Ports[0].Name = ""
				return p
			}(),
			decision: DecisionNoPort,
		},
		{
			name: "port with another name: status names the annotation",
			pod: func() *corev1.Pod {
				p := app(map[string]string{"cobrowse-proxy.io/inject": "true"})
				p.Spec.Containers[0].Ports[0].Name = "web"
				return p
			}(),
			req: Request{Namespace: "shop"},
			want: func() *corev1.Pod {
				p := withStatus(app(map[string]string{"cobrowse-proxy.io/inject": "true"}),
					`not injected: no container has a TCP port named "http" to take over; the app's port 3000 is named "web": set annotation cobrowse-proxy.io/port: "web", or rename the port http; the Service keeps targetPort: web`)
				p.Spec.Containers[0].Ports[0].Name = "web"
				return p
			}(),
			decision: DecisionNoPort,
		},
		{
			name: "no ports at all",
			pod: func() *corev1.Pod {
				p := app(map[string]string{"cobrowse-proxy.io/inject": "true"})
				p.Spec.Containers[0].Ports = nil
				return p
			}(),
			req: Request{Namespace: "shop"},
			want: func() *corev1.Pod {
				p := withStatus(app(map[string]string{"cobrowse-proxy.io/inject": "true"}),
					`not injected: no container has a TCP port named "http" to take over; declare the app's port with name: http in the container's ports and use targetPort: http in the Service`)
				p.Spec.Containers[0].Ports = nil
				return p
			}(),
			decision: DecisionNoPort,
		},
		{
			name: "app already uses 8480",
			pod: func() *corev1.Pod {
				p := app(map[string]string{"cobrowse-proxy.io/inject": "true"})
				p.Spec.Containers[0].Ports = append(p.Spec.Containers[0].Ports, corev1.ContainerPort{Name: "alt", ContainerPort: 8480})
				return p
			}(),
			req: Request{Namespace: "shop"},
			want: func() *corev1.Pod {
				p := withStatus(app(map[string]string{"cobrowse-proxy.io/inject": "true"}),
					"not injected: container app uses port 8480, which the proxy needs (8480 http, 9480 admin); move the app to another port")
				p.Spec.Containers[0].Ports = append(p.Spec.Containers[0].Ports, corev1.ContainerPort{Name: "alt", ContainerPort: 8480})
				return p
			}(),
			decision: DecisionPortConflict,
		},
		{
			name: "an init container uses 9480",
			pod: func() *corev1.Pod {
				p := app(map[string]string{"cobrowse-proxy.io/inject": "true"})
				p.Spec.InitContainers = []corev1.Container{{Name: "agent", Ports: []corev1.ContainerPort{{ContainerPort: 9480}}}}
				return p
			}(),
			req: Request{Namespace: "shop"},
			want: func() *corev1.Pod {
				p := withStatus(app(map[string]string{"cobrowse-proxy.io/inject": "true"}),
					"not injected: container agent uses port 9480, which the proxy needs (8480 http, 9480 admin); move the app to another port")
				p.Spec.InitContainers = []corev1.Container{{Name: "agent", Ports: []corev1.ContainerPort{{ContainerPort: 9480}}}}
				return p
			}(),
			decision: DecisionPortConflict,
		},
		{
			name: "a port already named http-app",
			pod: func() *corev1.Pod {
				p := app(map[string]string{"cobrowse-proxy.io/inject": "true"})
				p.Spec.Containers[0].Ports = append(p.Spec.Containers[0].Ports, corev1.ContainerPort{Name: "http-app", ContainerPort: 3001})
				return p
			}(),
			req: Request{Namespace: "shop"},
			want: func() *corev1.Pod {
				p := withStatus(app(map[string]string{"cobrowse-proxy.io/inject": "true"}),
					"not injected: container app already has a port named http-app, which the proxy needs; rename that port")
				p.Spec.Containers[0].Ports = append(p.Spec.Containers[0].Ports, corev1.ContainerPort{Name: "http-app", ContainerPort: 3001})
				return p
			}(),
			decision: DecisionPortConflict,
		},
		{
			name: "port name too long once suffixed",
			pod:  app(map[string]string{"cobrowse-proxy.io/inject": "true", "cobrowse-proxy.io/port": "http-frontend"}),
			req:  Request{Namespace: "shop"},
			want: withStatus(app(map[string]string{"cobrowse-proxy.io/inject": "true", "cobrowse-proxy.io/port": "http-frontend"}),
				`not injected: port name "http-frontend" would become "http-frontend-app", longer than the 15 characters Kubernetes allows; use a shorter port name`),
			decision: DecisionPortConflict,
		},
		{
			name: "hostNetwork pod",
			pod: func() *corev1.Pod {
				p := app(map[string]string{"cobrowse-proxy.io/inject": "true"})
				p.Spec.HostNetwork = true
				return p
			}(),
			req: Request{Namespace: "shop"},
			want: func() *corev1.Pod {
				p := withStatus(app(map[string]string{"cobrowse-proxy.io/inject": "true"}),
					"not injected: the pod uses hostNetwork, so the proxy's ports would be the node's; run the proxy standalone for it instead")
				p.Spec.HostNetwork = true
				return p
			}(),
			decision: DecisionHostNetwork,
		},
		{
			name: "UDP port of the same name is not taken over",
			pod: func() *corev1.Pod {
				p := app(map[string]string{"cobrowse-proxy.io/inject": "true"})
				p.Spec.Containers[0].Ports[0].Protocol = corev1.ProtocolUDP
				p.Spec.Containers[0].ReadinessProbe = nil
				return p
			}(),
			req: Request{Namespace: "shop"},
			want: func() *corev1.Pod {
				p := withStatus(app(map[string]string{"cobrowse-proxy.io/inject": "true"}),
					`not injected: no container has a TCP port named "http" to take over; declare the app's port with name: http in the container's ports and use targetPort: http in the Service`)
				p.Spec.Containers[0].Ports[0].Protocol = corev1.ProtocolUDP
				p.Spec.Containers[0].ReadinessProbe = nil
				return p
			}(),
			decision: DecisionNoPort,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Mutate(tt.pod, tt.req, tt.opts)
			if r.Decision != tt.decision {
				t.Errorf("decision = %s, want %s (status %q)", r.Decision, tt.decision, r.Status)
			}
			wantChanged := tt.decision == DecisionInjected || tt.decision == DecisionNoPort ||
				tt.decision == DecisionPortConflict || tt.decision == DecisionHostNetwork
			if r.Changed != wantChanged {
				t.Errorf("changed = %v, want %v", r.Changed, wantChanged)
			}
			if r.Changed && r.Status != tt.pod.Annotations[AnnotationStatus] {
				t.Errorf("status %q differs from the annotation %q", r.Status, tt.pod.Annotations[AnnotationStatus])
			}
			assertPod(t, tt.pod, tt.want)
		})
	}
}

func assertPod(t *testing.T, got, want *corev1.Pod) {
	t.Helper()
	g, _ := json.MarshalIndent(got, "", " ")
	w, _ := json.MarshalIndent(want, "", " ")
	if string(g) != string(w) {
		t.Errorf("pod:\n%s\nwant:\n%s", g, w)
	}
}

// TestMutateIdempotent: a second Mutate of an injected pod (a webhook
// reinvocation, or a pod created from an injected template) changes
// nothing.
func TestMutateIdempotent(t *testing.T) {
	for _, native := range []bool{false, true} {
		p := app(map[string]string{"cobrowse-proxy.io/inject": "true"})
		Mutate(p, Request{Namespace: "shop"}, Options{NativeSidecar: native})
		once := p.DeepCopy()
		r := Mutate(p, Request{Namespace: "shop"}, Options{NativeSidecar: native})
		if r.Changed || r.Decision != DecisionAlreadyInjected {
			t.Errorf("native=%v: second Mutate = %+v, want unchanged already_injected", native, r)
		}
		if !reflect.DeepEqual(p, once) {
			t.Errorf("native=%v: second Mutate changed the pod", native)
		}
	}
}

// TestMutateOptions: options set the image, resources and native form;
// the annotation "false" turns native off for one pod.
func TestMutateOptions(t *testing.T) {
	res := corev1.ResourceRequirements{Requests: corev1.ResourceList{"cpu": resource.MustParse("50m")}}
	o := Options{Image: "registry.local/cbp:v2", Resources: &res, NativeSidecar: true}

	p := app(map[string]string{"cobrowse-proxy.io/inject": "true"})
	Mutate(p, Request{Namespace: "shop"}, o)
	if len(p.Spec.InitContainers) != 1 || len(p.Spec.Containers) != 1 {
		t.Fatalf("native: init %d, containers %d; want the proxy as the one init container", len(p.Spec.InitContainers), len(p.Spec.Containers))
	}
	c := p.Spec.InitContainers[0]
	if c.Image != "registry.local/cbp:v2" || !reflect.DeepEqual(c.Resources, res) {
		t.Errorf("image %s, resources %v", c.Image, c.Resources)
	}
	res.Requests["cpu"] = resource.MustParse("1") // the pod holds its own copy
	if q := c.Resources.Requests["cpu"]; q.String() != "50m" {
		t.Errorf("resources shared with the options: %s", q.String())
	}

	p = app(map[string]string{"cobrowse-proxy.io/inject": "true", "cobrowse-proxy.io/native-sidecar": "false"})
	Mutate(p, Request{Namespace: "shop"}, o)
	if len(p.Spec.InitContainers) != 0 || len(p.Spec.Containers) != 2 {
		t.Errorf("native-sidecar false: init %d, containers %d", len(p.Spec.InitContainers), len(p.Spec.Containers))
	}
}

// TestRenameProbePorts: every probe and hook of the app that named the
// port follows the rename; numeric ones and other names stay.
func TestRenameProbePorts(t *testing.T) {
	h := func(port intstr.IntOrString) corev1.ProbeHandler {
		return corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Port: port}}
	}
	c := corev1.Container{
		LivenessProbe:  &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString("http")}}},
		ReadinessProbe: &corev1.Probe{ProbeHandler: h(intstr.FromInt32(3000))},
		StartupProbe:   &corev1.Probe{ProbeHandler: h(intstr.FromString("http"))},
		Lifecycle: &corev1.Lifecycle{
			PreStop:   &corev1.LifecycleHandler{HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromString("http")}},
			PostStart: &corev1.LifecycleHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromString("metrics")}},
		},
	}
	renameProbePorts(&c, "http", "http-app")
	for name, got := range map[string]intstr.IntOrString{
		"liveness":  c.LivenessProbe.TCPSocket.Port,
		"readiness": c.ReadinessProbe.HTTPGet.Port,
		"startup":   c.StartupProbe.HTTPGet.Port,
		"preStop":   c.Lifecycle.PreStop.HTTPGet.Port,
		"postStart": c.Lifecycle.PostStart.TCPSocket.Port,
	} {
		want := map[string]string{"liveness": "http-app", "readiness": "3000", "startup": "http-app",
			"preStop": "http-app", "postStart": "metrics"}[name]
		if got.String() != want {
			t.Errorf("%s port = %s, want %s", name, got.String(), want)
		}
	}
}

// TestMutateDeterministic: the same input gives the same bytes, which
// the comparison of inject's output with the webhook's pod relies on.
func TestMutateDeterministic(t *testing.T) {
	var first []byte
	for range 20 {
		p := app(map[string]string{"cobrowse-proxy.io/inject": "true"})
		Mutate(p, Request{Namespace: "shop"}, Options{})
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = b
		} else if string(b) != string(first) {
			t.Fatalf("output differs:\n%s\n%s", first, b)
		}
	}
}
