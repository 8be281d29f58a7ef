# Infrastructure targets: the CDK app in infra/ (see infra/DEPLOY.md).
# Included by the root Makefile; paths are relative to the repository root.
#
#   make test-infra     infra Go tests (assertions, cdk-nag, context validation), then make synth
#   make synth          cdk synth + cfn-lint, offline and without AWS credentials
#   make cdk-bootstrap  one-time CDK bootstrap of the current account/region (needs credentials)
#   make diff / deploy / destroy
#
# Configuration is the "context" in cdk.json; override per run with
#   make deploy CDK_FLAGS='-c alarmEmail=ops@example.com'

CDK_DIR   := .cdk
CDK       := $(CDK_DIR)/node_modules/.bin/cdk
CDK_OUT   := cdk.out
STACK     := AlexaSkillCredentials
CDK_FLAGS ?=

# The jsii kernel runs on Node 20 here and prints an end-of-life banner on
# every run; the CLI's telemetry is also off in cdk.json ("cli-telemetry").
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CDK_DISABLE_CLI_TELEMETRY := 1

# cfn-lint rules ignored on the synthesized template:
#   W3005  "obsolete DependsOn": the CDK makes every Lambda function depend on
#          its role and the role's policy. The dependency on the role is
#          redundant (Role is a GetAtt) but the one on the policy is what makes
#          the function's first invocation see its permissions; CDK emits
#          both and cannot drop only one. Harmless.
CFN_LINT_IGNORE := W3005

.PHONY: test-infra test-infra-go synth cdk-cli cdk-bootstrap diff deploy destroy

## test-infra: the infra tests and an offline synth checked by cfn-lint
test-infra: test-infra-go synth

# -count=1: the tests read cdk.json and build ./lambda, outside the Go build
# graph of ./infra, so cached results could be stale. A cold build of the CDK
# bindings alone takes minutes on small machines: hence the long timeout.
test-infra-go:
	$(GO) test -count=1 -timeout 30m ./infra

## cdk-cli: the CDK CLI pinned in .cdk/package-lock.json (npm ci only when the lock changed)
cdk-cli: $(CDK)

$(CDK): $(CDK_DIR)/package.json $(CDK_DIR)/package-lock.json
	npm ci --prefix $(CDK_DIR) --no-audit --no-fund
	@touch $@

## synth: cdk synth to cdk.out/ (builds ./lambda) and cfn-lint the template; no AWS access
# AWS_EC2_METADATA_DISABLED keeps the CLI from probing instance metadata for
# credentials it does not need; --no-notices skips fetching CDK notices.
synth: cdk-cli
	@command -v cfn-lint >/dev/null 2>&1 || { \
	  echo "cfn-lint not found: python3 -m pip install cfn-lint"; exit 1; }
	AWS_EC2_METADATA_DISABLED=true $(CDK) synth --no-notices --quiet --output $(CDK_OUT) $(CDK_FLAGS) $(STACK)
	cfn-lint --ignore-checks $(CFN_LINT_IGNORE) -- $(CDK_OUT)/$(STACK).template.json
	@echo "synth: $(CDK_OUT)/$(STACK).template.json passed cdk-nag and cfn-lint"

## cdk-bootstrap: prepare the current AWS account and region for CDK deployments (once)
cdk-bootstrap: cdk-cli
	$(CDK) bootstrap $(CDK_FLAGS)

## diff: what a deploy would change in the deployed stack
diff: cdk-cli
	$(CDK) diff $(CDK_FLAGS) $(STACK)

## deploy: build, synth and deploy; asks before widening any IAM permission or security group
deploy: cdk-cli
	$(CDK) deploy --require-approval broadening --outputs-file $(CDK_OUT)/outputs.json $(CDK_FLAGS) $(STACK)

## destroy: delete the stack (the KMS key and the secrets are retained, see infra/DEPLOY.md)
destroy: cdk-cli
	$(CDK) destroy $(CDK_FLAGS) $(STACK)
