// Package sidecar adds the proxy to a pod: the one mutation that the
// admission webhook applies to pods being created and that the inject
// command applies to manifests on disk, so both give the same pod.
//
// The mutation takes over the app's named port: the app container's port
// named e.g. "http" is renamed "http-app" and the proxy's port 8480 takes
// the name "http", so a Service with targetPort: http reaches the proxy
// without being edited, and the proxy's upstream is the app on loopback.
// A pod the mutation cannot serve that way (no such named port, a port the
// proxy needs already taken, host networking) is left as it is, with a
// status annotation saying what to change.
//
// Mutate knows no HTTP and no API server: pod and options in, pod out. Its
// result is deterministic (same pod and options, same bytes), which is what
// lets the webhook's pod and the inject command's output be compared.
package sidecar

import (
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Annotations and labels users set, and the status annotation Mutate writes.
const (
	// AnnotationInject on a pod: "true" asks for the proxy, "false" refuses
	// it even in a namespace that asks for it (the opt-out wins).
	AnnotationInject = "cobrowse-proxy.io/inject"
	// LabelNamespaceInject on a namespace, value NamespaceEnabled: every
	// pod in it gets the proxy unless it opts out.
	LabelNamespaceInject = "cobrowse-proxy.io/inject"
	NamespaceEnabled     = "enabled"
	// AnnotationConfig names the ConfigMap holding config.yaml.
	AnnotationConfig = "cobrowse-proxy.io/config"
	// AnnotationSecret names the Secret holding sdk-secret.
	AnnotationSecret = "cobrowse-proxy.io/secret"
	// AnnotationPort names the app's port to take over.
	AnnotationPort = "cobrowse-proxy.io/port"
	// AnnotationNativeSidecar "true": the proxy is an init container with
	// restartPolicy Always (Kubernetes 1.29+), which starts before the app
	// and stops after it, and lets a Job complete.
	AnnotationNativeSidecar = "cobrowse-proxy.io/native-sidecar"
	// AnnotationStatus is written by Mutate: StatusInjected, or why not.
	AnnotationStatus = "cobrowse-proxy.io/status"
)

// Names and numbers of what Mutate adds.
const (
	ContainerName = "cobrowse-proxy"
	VolumeName    = "cobrowse-proxy"
	// ProxyPort is the proxy's HTTP port in the pod (listen.http ":8480").
	ProxyPort = 8480
	// AdminPort serves /healthz, /readyz and /metrics (listen.admin
	// ":9480", not loopback, so that the kubelet's probes reach it).
	AdminPort     = 9480
	AdminPortName = "cobrowse-admin"
	// AppPortSuffix is appended to the taken-over port's name: http -> http-app.
	AppPortSuffix = "-app"
	// ConfigDir holds config.yaml (the image's default config path is
	// ConfigDir/config.yaml) and secret/sdk-secret (zoom.sdkSecretFile).
	ConfigDir = "/etc/cobrowse-proxy"
	// ConfigKey and SecretKey are the keys read from the ConfigMap and
	// the Secret.
	ConfigKey = "config.yaml"
	SecretKey = "sdk-secret"
	// SecretPath is where the SDK secret appears, inside ConfigDir.
	SecretPath = "secret/sdk-secret"
	// EnvUpstream carries the app's address into the config
	// (upstream: ${COBROWSE_PROXY_UPSTREAM}).
	EnvUpstream = "COBROWSE_PROXY_UPSTREAM"
	// UID is the image's numeric non-root user and group.
	UID = 65532
	// StatusInjected is the status of a pod that got the proxy.
	StatusInjected = "injected"
)

// Defaults for Options fields left empty.
const (
	DefaultImage     = "ghcr.io/cobrowse-proxy/cobrowse-proxy:latest"
	DefaultConfigMap = "cobrowse-proxy"
	DefaultSecret    = "cobrowse-proxy-sdk"
	DefaultPort      = "http"
)

// Decision says what Mutate did and why. The values are a fixed set, used
// as a metric label.
type Decision string

// Decisions, in the order Mutate checks them.
const (
	// DecisionExcludedNamespace: kube-system or the webhook's own namespace.
	DecisionExcludedNamespace Decision = "excluded_namespace"
	// DecisionOptedOut: annotation inject "false".
	DecisionOptedOut Decision = "opted_out"
	// DecisionNotRequested: neither the pod nor its namespace asked.
	DecisionNotRequested Decision = "not_requested"
	// DecisionAlreadyInjected: the pod carries the proxy already.
	DecisionAlreadyInjected Decision = "already_injected"
	// DecisionHostNetwork: the proxy's ports would be the node's.
	DecisionHostNetwork Decision = "host_network"
	// DecisionNoPort: no app container has the named TCP port.
	DecisionNoPort Decision = "no_port"
	// DecisionPortConflict: a port the proxy needs is in use.
	DecisionPortConflict Decision = "port_conflict"
	// DecisionInjected: the proxy was added.
	DecisionInjected Decision = "injected"
)

// Decisions lists every Decision, for metrics that start each at zero.
func Decisions() []Decision {
	return []Decision{DecisionExcludedNamespace, DecisionOptedOut, DecisionNotRequested,
		DecisionAlreadyInjected, DecisionHostNetwork, DecisionNoPort, DecisionPortConflict, DecisionInjected}
}

// Options are the injector's settings; pod annotations override ConfigMap,
// Secret, Port and NativeSidecar per pod. Empty fields take the defaults.
type Options struct {
	Image     string
	ConfigMap string
	Secret    string
	// Port is the name of the app's port to take over.
	Port          string
	NativeSidecar bool
	// Resources nil: DefaultResources.
	Resources *corev1.ResourceRequirements
	// ExcludedNamespaces are never injected (kube-system is always
	// excluded; add the webhook's own namespace).
	ExcludedNamespaces []string
}

// DefaultResources are the proxy's requests and limits: a request that
// fits an idle sidecar and a memory limit that catches a leak. There is
// no CPU limit: CFS throttling would add latency to every proxied request
// of the app for no protection the request does not already give.
func DefaultResources() corev1.ResourceRequirements {
	return corev1.ResourceRequirements{
		Requests: corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse("10m"),
			corev1.ResourceMemory: resource.MustParse("32Mi"),
		},
		Limits: corev1.ResourceList{
			corev1.ResourceMemory: resource.MustParse("128Mi"),
		},
	}
}

// Request is what Mutate needs to know besides the pod.
type Request struct {
	// Namespace the pod is created in (the AdmissionReview's namespace:
	// the pod's own may be empty).
	Namespace string
	// NamespaceLabels are the namespace's labels, as far as known. The
	// webhook knows only whether the namespace matched the "enabled"
	// selector and passes that label alone.
	NamespaceLabels map[string]string
}

// Result is Mutate's outcome.
type Result struct {
	Decision Decision
	// Changed: the pod was modified (the proxy added, or only the status
	// annotation for a pod that asked but could not be served).
	Changed bool
	// Status is the human-readable outcome, also written to
	// AnnotationStatus when Changed.
	Status string
}

// Mutate adds the proxy to pod when it is asked for and can be served,
// and reports what it did. It never fails: a pod it cannot serve gets a
// status saying what to change instead.
func Mutate(pod *corev1.Pod, req Request, o Options) Result {
	o = o.withDefaults()
	ann := pod.Annotations
	if req.Namespace == "kube-system" || contains(o.ExcludedNamespaces, req.Namespace) {
		return Result{Decision: DecisionExcludedNamespace, Status: fmt.Sprintf("namespace %s is never injected", req.Namespace)}
	}
	switch ann[AnnotationInject] {
	case "false":
		return Result{Decision: DecisionOptedOut, Status: "opted out by annotation " + AnnotationInject + `: "false"`}
	case "true":
	default:
		if req.NamespaceLabels[LabelNamespaceInject] != NamespaceEnabled {
			return Result{Decision: DecisionNotRequested, Status: "not requested"}
		}
	}
	if hasProxy(pod) {
		return Result{Decision: DecisionAlreadyInjected, Status: "already injected"}
	}
	if v, ok := ann[AnnotationConfig]; ok && v != "" {
		o.ConfigMap = v
	}
	if v, ok := ann[AnnotationSecret]; ok && v != "" {
		o.Secret = v
	}
	if v, ok := ann[AnnotationPort]; ok && v != "" {
		o.Port = v
	}
	switch ann[AnnotationNativeSidecar] {
	case "true":
		o.NativeSidecar = true
	case "false":
		o.NativeSidecar = false
	}

	if pod.Spec.HostNetwork {
		return refuse(pod, DecisionHostNetwork, "not injected: the pod uses hostNetwork, so the proxy's ports would be the node's; run the proxy standalone for it instead")
	}
	if r, bad := checkConflicts(pod, o); bad {
		return r
	}
	ci, pi := findPort(pod, o.Port)
	if ci < 0 {
		return refuse(pod, DecisionNoPort, noPortStatus(pod, o.Port))
	}
	app := &pod.Spec.Containers[ci]
	appPort := app.Ports[pi].ContainerPort
	newName := o.Port + AppPortSuffix
	app.Ports[pi].Name = newName
	renameProbePorts(app, o.Port, newName)

	c := Container(o, appPort)
	if o.NativeSidecar {
		always := corev1.ContainerRestartPolicyAlways
		c.RestartPolicy = &always
		pod.Spec.InitContainers = append(pod.Spec.InitContainers, c)
	} else {
		pod.Spec.Containers = append(pod.Spec.Containers, c)
	}
	pod.Spec.Volumes = append(pod.Spec.Volumes, Volume(o.ConfigMap, o.Secret))
	setStatus(pod, StatusInjected)
	return Result{Decision: DecisionInjected, Changed: true, Status: StatusInjected}
}

func (o Options) withDefaults() Options {
	if o.Image == "" {
		o.Image = DefaultImage
	}
	if o.ConfigMap == "" {
		o.ConfigMap = DefaultConfigMap
	}
	if o.Secret == "" {
		o.Secret = DefaultSecret
	}
	if o.Port == "" {
		o.Port = DefaultPort
	}
	return o
}

// Container is the proxy container for an app listening on appPort (the
// kustomize component's container is checked against it). It is the same
// for both forms; the native sidecar form adds restartPolicy Always.
func Container(o Options, appPort int32) corev1.Container {
	o = o.withDefaults()
	res := DefaultResources()
	if o.Resources != nil {
		res = *o.Resources.DeepCopy()
	}
	probe := func(path string, period int32) *corev1.Probe {
		return &corev1.Probe{
			ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
				Path: path, Port: intstr.FromInt32(AdminPort), Scheme: corev1.URISchemeHTTP,
			}},
			TimeoutSeconds: 1, PeriodSeconds: period, SuccessThreshold: 1, FailureThreshold: 3,
		}
	}
	uid := int64(UID)
	yes, no := true, false
	return corev1.Container{
		Name:  ContainerName,
		Image: o.Image,
		Args:  []string{"run"},
		Ports: []corev1.ContainerPort{
			{Name: o.Port, ContainerPort: ProxyPort, Protocol: corev1.ProtocolTCP},
			{Name: AdminPortName, ContainerPort: AdminPort, Protocol: corev1.ProtocolTCP},
		},
		Env: []corev1.EnvVar{
			{Name: EnvUpstream, Value: "http://127.0.0.1:" + strconv.Itoa(int(appPort))},
		},
		Resources: res,
		VolumeMounts: []corev1.VolumeMount{
			{Name: VolumeName, MountPath: ConfigDir, ReadOnly: true},
		},
		ReadinessProbe: probe("/readyz", 5),
		LivenessProbe:  probe("/healthz", 10),
		SecurityContext: &corev1.SecurityContext{
			RunAsNonRoot:             &yes,
			RunAsUser:                &uid,
			RunAsGroup:               &uid,
			ReadOnlyRootFilesystem:   &yes,
			AllowPrivilegeEscalation: &no,
			Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
			SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		},
	}
}

// Volume is the proxy's one volume: config.yaml from the ConfigMap and
// secret/sdk-secret from the Secret, projected into ConfigDir. One
// projected volume rather than two nested mounts because a mount point
// inside a (read-only) ConfigMap volume cannot be created by the runtime;
// both sources still update in place, so live reload sees edits.
func Volume(configMap, secret string) corev1.Volume {
	mode := int32(0o444)
	return corev1.Volume{
		Name: VolumeName,
		VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
			DefaultMode: &mode,
			Sources: []corev1.VolumeProjection{
				{ConfigMap: &corev1.ConfigMapProjection{
					LocalObjectReference: corev1.LocalObjectReference{Name: configMap},
					Items:                []corev1.KeyToPath{{Key: ConfigKey, Path: ConfigKey}},
				}},
				{Secret: &corev1.SecretProjection{
					LocalObjectReference: corev1.LocalObjectReference{Name: secret},
					Items:                []corev1.KeyToPath{{Key: SecretKey, Path: SecretPath}},
				}},
			},
		}},
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// hasProxy reports whether the pod carries the proxy (either form), so a
// reinvocation or a pod from an injected template is left alone.
func hasProxy(pod *corev1.Pod) bool {
	for _, c := range pod.Spec.Containers {
		if c.Name == ContainerName {
			return true
		}
	}
	for _, c := range pod.Spec.InitContainers {
		if c.Name == ContainerName {
			return true
		}
	}
	return false
}

// findPort returns the indexes of the regular container and its TCP port
// named name, or -1, -1.
func findPort(pod *corev1.Pod, name string) (int, int) {
	for ci, c := range pod.Spec.Containers {
		for pi, p := range c.Ports {
			if p.Name == name && (p.Protocol == "" || p.Protocol == corev1.ProtocolTCP) {
				return ci, pi
			}
		}
	}
	return -1, -1
}

// checkConflicts refuses a pod in which a container already uses a port
// number or name the proxy needs (containers of a pod share one network
// namespace, so 8480 and 9480 must be free), or a volume name.
func checkConflicts(pod *corev1.Pod, o Options) (Result, bool) {
	newName := o.Port + AppPortSuffix
	if len(newName) > 15 {
		return refuse(pod, DecisionPortConflict, fmt.Sprintf(
			"not injected: port name %q would become %q, longer than the 15 characters Kubernetes allows; use a shorter port name",
			o.Port, newName)), true
	}
	all := append(append([]corev1.Container(nil), pod.Spec.InitContainers...), pod.Spec.Containers...)
	for _, c := range all {
		for _, p := range c.Ports {
			switch {
			case p.ContainerPort == ProxyPort || p.ContainerPort == AdminPort:
				return refuse(pod, DecisionPortConflict, fmt.Sprintf(
					"not injected: container %s uses port %d, which the proxy needs (%d http, %d admin); move the app to another port",
					c.Name, p.ContainerPort, ProxyPort, AdminPort)), true
			case p.Name == newName || p.Name == AdminPortName:
				return refuse(pod, DecisionPortConflict, fmt.Sprintf(
					"not injected: container %s already has a port named %s, which the proxy needs; rename that port",
					c.Name, p.Name)), true
			}
		}
	}
	for _, v := range pod.Spec.Volumes {
		if v.Name == VolumeName {
			return refuse(pod, DecisionPortConflict, fmt.Sprintf(
				"not injected: the pod already has a volume named %s, which the proxy needs; rename that volume", VolumeName)), true
		}
	}
	return Result{}, false
}

// noPortStatus tells the user how to let the proxy take over a port.
func noPortStatus(pod *corev1.Pod, name string) string {
	var first *corev1.ContainerPort
	for _, c := range pod.Spec.Containers {
		for i := range c.Ports {
			if c.Ports[i].Protocol == "" || c.Ports[i].Protocol == corev1.ProtocolTCP {
				first = &c.Ports[i]
				break
			}
		}
		if first != nil {
			break
		}
	}
	s := fmt.Sprintf("not injected: no container has a TCP port named %q to take over", name)
	if first == nil {
		return s + fmt.Sprintf("; declare the app's port with name: %s in the container's ports and use targetPort: %s in the Service", name, name)
	}
	p := first.ContainerPort
	if first.Name != "" {
		return s + fmt.Sprintf("; the app's port %d is named %q: set annotation %s: %q, or rename the port %s; the Service keeps targetPort: %s",
			p, first.Name, AnnotationPort, first.Name, name, first.Name)
	}
	return s + fmt.Sprintf("; name the app's port (name: %s, containerPort: %d) and change the Service's targetPort: %d to targetPort: %s, so traffic goes to the proxy (a numeric targetPort would bypass it)",
		name, p, p, name)
}

// renameProbePorts points the app's own probes and hooks that used the
// taken-over port by name at its new name: a named probe port is looked
// up in the container's own ports, which no longer have the old name.
func renameProbePorts(c *corev1.Container, from, to string) {
	fix := func(h *corev1.ProbeHandler) {
		if h == nil {
			return
		}
		if h.HTTPGet != nil && h.HTTPGet.Port.Type == intstr.String && h.HTTPGet.Port.StrVal == from {
			h.HTTPGet.Port = intstr.FromString(to)
		}
		if h.TCPSocket != nil && h.TCPSocket.Port.Type == intstr.String && h.TCPSocket.Port.StrVal == from {
			h.TCPSocket.Port = intstr.FromString(to)
		}
	}
	for _, p := range []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe, c.StartupProbe} {
		if p != nil {
			fix(&p.ProbeHandler)
		}
	}
	if c.Lifecycle != nil {
		for _, h := range []*corev1.LifecycleHandler{c.Lifecycle.PostStart, c.Lifecycle.PreStop} {
			if h == nil {
				continue
			}
			if h.HTTPGet != nil && h.HTTPGet.Port.Type == intstr.String && h.HTTPGet.Port.StrVal == from {
				h.HTTPGet.Port = intstr.FromString(to)
			}
			if h.TCPSocket != nil && h.TCPSocket.Port.Type == intstr.String && h.TCPSocket.Port.StrVal == from {
				h.TCPSocket.Port = intstr.FromString(to)
			}
		}
	}
}

func refuse(pod *corev1.Pod, d Decision, status string) Result {
	setStatus(pod, status)
	return Result{Decision: d, Changed: true, Status: status}
}

func setStatus(pod *corev1.Pod, status string) {
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	pod.Annotations[AnnotationStatus] = status
}
