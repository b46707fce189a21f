package rules

import (
	"net/netip"
	"regexp"
	"strings"

	"github.com/falco-reporter/falco-reporter/internal/safe"
)

// What a field can legally hold. A command places an alert value only
// after it passes its field's check, so that a forged or corrupted value
// cannot become something else: a pod name "--all" or
// "--kubeconfig=/tmp/x" is not a DNS name and never reaches kubectl, a
// "PID" of "1 2" never reaches ps. Fields without a check here are free
// text; the playbook puts them after "--" (the shell harness test checks).
var (
	hexID       = regexp.MustCompile(`^[0-9a-f]{12,64}$`)
	dnsLabel    = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)
	dnsSubdom   = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	k8sName     = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9:._@-]*[A-Za-z0-9])?$`) // RBAC and other path-segment names (system:controller:x)
	unsigned    = regexp.MustCompile(`^[0-9]{1,20}$`)
	signedInt   = regexp.MustCompile(`^-?[0-9]{1,20}$`)
	awsRegion   = regexp.MustCompile(`^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]$`)
	gcpProject  = regexp.MustCompile(`^[a-z][-a-z0-9]{4,28}[a-z0-9]$`)
	githubRepo  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}$`)
	githubOwner = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,38})$`)
	githubLogin = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,38})(\[bot\])?$`)
	iamName     = regexp.MustCompile(`^[A-Za-z0-9+=.@_][A-Za-z0-9+=.@_-]{0,63}$`)
	s3Bucket    = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	oktaID      = regexp.MustCompile(`^[0-9A-Za-z]{20}$`)
	oktaName    = regexp.MustCompile(`^[^"\\\x00-\x1f\x7f]{1,255}$`)
)

// k8sObject checks the name of a Kubernetes object as the audit log
// records it (objectRef.name, responseObject.metadata.name, roleRef.name).
var k8sObject = valueCheck{ok: func(s string) bool { return len(s) <= 253 && k8sName.MatchString(s) }, want: "a Kubernetes object name"}

// k8sUser checks a Kubernetes user name as the audit log records it: a
// person's e-mail or OIDC subject, a certificate's common name, a cloud
// identity, system:serviceaccount:NAMESPACE:NAME. Kubernetes itself allows
// any string; a name with quotes, shell metacharacters or control
// characters is refused, so that a forged name never reaches kubectl --as.
var k8sUser = valueCheck{ok: func(s string) bool { return len(s) <= 256 && k8sUserName.MatchString(s) }, want: "a Kubernetes user name"}

var k8sUserName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@:/#+=,~%-]*( [A-Za-z0-9._@:/#+=,~%-]+)*$`)

// githubRepoName checks the full name of a GitHub repository as Falco's
// github plugin gives it (the repository's URL without
// "https://github.com/"): owner/name, where GitHub refuses the names "."
// and "..", which would climb up an API path.
var githubRepoName = valueCheck{ok: func(s string) bool {
	return githubRepo.MatchString(s) && !strings.HasSuffix(s, "/.") && !strings.HasSuffix(s, "/..")
}, want: "a GitHub repository's full name (owner/name)"}

// What the gcp_auditlog rules place in commands.
var (
	// A principal as Cloud Audit Logs record it in
	// authenticationInfo.principalEmail: a user's or a service account's
	// e-mail address. Commands put it inside a Logging query
	// (principalEmail="...") and after --iam-account=, so it may hold no
	// quote, backslash or space.
	gcpPrincipal = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)+$`)
	// Cloud Storage bucket names: lower-case letters, digits, -, _ and .,
	// starting and ending with a letter or digit, at most 222 characters.
	gcsBucket = regexp.MustCompile(`^[a-z0-9][-a-z0-9_.]{1,220}[a-z0-9]$`)
	// Cloud SQL's resource label database_id is PROJECT:INSTANCE (a
	// domain-scoped project adds DOMAIN:); an instance name starts with a
	// letter.
	gcpSQLDatabase = regexp.MustCompile(`^([a-z0-9][-a-z0-9.]{0,62}:){0,2}[a-z][-a-z0-9]{0,97}$`)
	// BigQuery dataset ids: letters, digits and underscores (at most 1024).
	bqDataset = regexp.MustCompile(`^[A-Za-z0-9_]+$`)
	// Cloud KMS key ring and key ids.
	kmsID = regexp.MustCompile(`^[A-Za-z0-9_][-A-Za-z0-9_]{0,62}$`)
)

type valueCheck struct {
	ok   func(string) bool
	want string // what the value should have been, for the report
}

func rx(re *regexp.Regexp, want string) valueCheck {
	return valueCheck{ok: re.MatchString, want: want}
}

var (
	checkUnsigned = rx(unsigned, "a non-negative integer")
	checkIP       = valueCheck{ok: func(s string) bool { _, err := netip.ParseAddr(s); return err == nil }, want: "an IP address"}
	checkOktaName = valueCheck{ok: func(s string) bool { return oktaName.MatchString(s) && !strings.ContainsFunc(s, safe.NeedsEscape) }, want: "an Okta name without quotes, backslashes or control characters"}
)

// valueChecks maps field names to their check.
var valueChecks = map[string]valueCheck{
	"container.id": rx(hexID, "a container id (12 to 64 hexadecimal digits)"),
	"k8s.ns.name":  valueCheck{ok: func(s string) bool { return len(s) <= 63 && dnsLabel.MatchString(s) }, want: "a Kubernetes namespace name (DNS label)"},
	"k8s.pod.name": valueCheck{ok: func(s string) bool { return len(s) <= 253 && dnsSubdom.MatchString(s) }, want: "a Kubernetes pod name (DNS subdomain)"},

	"ka.target.namespace":   valueCheck{ok: func(s string) bool { return len(s) <= 63 && dnsLabel.MatchString(s) }, want: "a Kubernetes namespace name (DNS label)"},
	"ka.user.name":          k8sUser,
	"ka.target.name":        k8sObject,
	"ka.resp.name":          k8sObject,
	"ka.req.configmap.name": k8sObject,
	"ka.req.binding.role":   k8sObject,
	"ka.target.resource":    rx(regexp.MustCompile(`^[a-z][a-z0-9.-]{0,62}$`), "a Kubernetes resource type"),
	"ka.target.subresource": rx(regexp.MustCompile(`^[a-z][a-z0-9.-]{0,62}$`), "a Kubernetes subresource"),
	"ka.verb":               rx(regexp.MustCompile(`^[a-z]{1,32}$`), "a Kubernetes API verb"),

	"ct.region":         rx(awsRegion, "an AWS region"),
	"ct.user.accountid": rx(regexp.MustCompile(`^[0-9]{12}$`), "an AWS account id"),
	"ct.name":           rx(regexp.MustCompile(`^[A-Za-z0-9]{1,128}$`), "a CloudTrail event name"),
	"ct.srcip":          checkIP,
	"gcp.projectId":     rx(gcpProject, "a GCP project id"),
	"gcp.callerIP":      checkIP,
	// CloudTrail (the cloudtrail plugin's fields). A principal or
	// resource name is placed in aws CLI options and in the CLI's
	// shorthand syntax (AttributeKey=Username,AttributeValue=NAME), where
	// a comma would start another value: the checks follow AWS's naming
	// rules, less the comma, and never let a value start with "-".
	"ct.id":                     rx(regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`), "a CloudTrail event id"),
	"ct.user":                   rx(iamName, "an IAM user or role name"),
	"ct.originaluser":           rx(iamName, "an IAM user or session name"),
	"ct.user.arn":               rx(regexp.MustCompile(`^arn:aws[a-z-]*:(iam|sts)::[0-9]{12}:[A-Za-z0-9+=.@_/:-]{1,512}$`), "an IAM or STS ARN"),
	"ct.user.principalid":       rx(regexp.MustCompile(`^[A-Z0-9]{12,128}(:[A-Za-z0-9+=.@_-]{1,64})?$`), "an AWS principal id"),
	"ct.request.username":       rx(iamName, "an IAM user name"),
	"ct.request.groupname":      rx(regexp.MustCompile(`^[A-Za-z0-9+=.@_][A-Za-z0-9+=.@_-]{0,127}$`), "an IAM group name"),
	"ct.request.name":           rx(regexp.MustCompile(`^(arn:aws[a-z-]*:cloudtrail:[a-z0-9-]+:[0-9]{12}:trail/)?[A-Za-z0-9][A-Za-z0-9._-]{2,127}$`), "a CloudTrail trail name or ARN"),
	"ct.request.functionname":   rx(regexp.MustCompile(`^(arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:function:)?[A-Za-z0-9_][A-Za-z0-9_-]{0,63}(:[A-Za-z0-9$_-]{1,128})?$`), "a Lambda function name or ARN"),
	"ct.request.cluster":        rx(regexp.MustCompile(`^(arn:aws[a-z-]*:ecs:[a-z0-9-]+:[0-9]{12}:cluster/)?[A-Za-z0-9_][A-Za-z0-9_-]{0,254}$`), "an ECS cluster name or ARN"),
	"ct.request.servicename":    rx(regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_-]{0,254}$`), "an ECS service name"),
	"ct.request.taskdefinition": rx(regexp.MustCompile(`^(arn:aws[a-z-]*:ecs:[a-z0-9-]+:[0-9]{12}:task-definition/)?[A-Za-z0-9_][A-Za-z0-9_-]{0,254}(:[0-9]{1,10})?$`), "an ECS task definition"),
	"ct.response.reservationid": rx(regexp.MustCompile(`^r-[0-9a-f]{8,17}$`), "an EC2 reservation id"),
	"ct.response.subnetid":      rx(regexp.MustCompile(`^subnet-[0-9a-f]{8,17}$`), "an EC2 subnet id"),
	"s3.bucket":                 valueCheck{ok: func(s string) bool { return len(s) <= 63 && s3Bucket.MatchString(s) }, want: "an S3 bucket name"},
	// The instance id in the rule "Run Instances in Non-approved Region".
	"json.value[/responseElements/instancesSet/items/0/instanceId]": rx(regexp.MustCompile(`^i-[0-9a-f]{8,17}$`), "an EC2 instance id"),

	// Okta (the okta plugin's fields). Names are placed inside a System
	// Log filter string (actor.displayName eq "NAME"): a quote or a
	// backslash would end or escape that string.
	"okta.client.ip":              checkIP,
	"okta.actor.name":             checkOktaName,
	"okta.target.user.name":       checkOktaName,
	"okta.target.group.name":      checkOktaName,
	"okta.target.app.alternateid": checkOktaName,
	"okta.actor.id":               rx(oktaID, "an Okta object id"),
	"okta.target.user.id":         rx(oktaID, "an Okta object id"),

	"github.org":               rx(githubOwner, "a GitHub organisation name"),
	"github.owner":             rx(githubOwner, "a GitHub account name"),
	"github.repo.name":         githubRepoName,
	"github.user":              rx(githubLogin, "a GitHub login (a user, or an app's name[bot])"),
	"github.collaborator.name": rx(githubOwner, "a GitHub user name"),
	"github.webhook.id":        checkUnsigned,

	"gcp.user": valueCheck{ok: func(s string) bool { return len(s) <= 254 && gcpPrincipal.MatchString(s) },
		want: "a Google principal's e-mail address"},
	"gcp.storage.bucket": valueCheck{ok: func(s string) bool { return gcsBucket.MatchString(s) && !strings.Contains(s, "..") },
		want: "a Cloud Storage bucket name"},
	"gcp.methodName":              rx(regexp.MustCompile(`^[A-Za-z][A-Za-z0-9._]{0,199}$`), "a Google API method name"),
	"gcp.cloudsql.databaseId":     rx(gcpSQLDatabase, "a Cloud SQL database id (PROJECT:INSTANCE)"),
	"gcp.cloudfunctions.function": rx(regexp.MustCompile(`^[A-Za-z][-A-Za-z0-9_]{0,62}$`), "a Cloud Functions function name"),
	// Resource labels that the gcp_auditlog rules read with the json plugin.
	"json.value[/resource/labels/policy_name]":   rx(dnsLabel, "a Cloud Armor security policy name"),
	"json.value[/resource/labels/key_ring_id]":   rx(kmsID, "a Cloud KMS key ring id"),
	"json.value[/resource/labels/crypto_key_id]": rx(kmsID, "a Cloud KMS key id"),
	"json.value[/resource/labels/dataset_id]": valueCheck{ok: func(s string) bool { return len(s) <= 1024 && bqDataset.MatchString(s) },
		want: "a BigQuery dataset id"},

	"user.loginuid": rx(signedInt, "a user id"),
	"fd.rip":        checkIP,
	"fd.lip":        checkIP,
	"fd.sip":        checkIP,
	"fd.cip":        checkIP,
}

// numericFields hold integers: PIDs, ports, ids, times and inode numbers.
var numericFields = []string{
	"proc.pid", "proc.ppid", "proc.vpid", "proc.pvpid", "proc.sid", "proc.vpgid", "proc.tty",
	"thread.tid", "thread.vtid", "user.uid", "group.gid", "fd.num", "fd.ino", "fd.dev",
	"fd.rport", "fd.lport", "fd.sport", "fd.cport", "evt.time", "evt.rawtime",
	"proc.exe_ino", "proc.exe_ino.ctime", "proc.exe_ino.mtime", "container.start_ts",
}

func init() {
	for _, f := range numericFields {
		valueChecks[f] = checkUnsigned
	}
}

// HasValueCheck reports whether a field's values are checked before a
// command may use them.
func HasValueCheck(field string) bool {
	_, ok := valueChecks[field]
	return ok || strings.HasPrefix(field, "proc.apid[")
}

// checkValue returns "" when s is a legal value of field, or why it is not.
func checkValue(field, s string) string {
	chk, ok := valueChecks[field]
	if !ok && strings.HasPrefix(field, "proc.apid[") {
		chk, ok = checkUnsigned, true
	}
	if !ok || chk.ok(s) {
		return ""
	}
	return "is not " + chk.want
}
