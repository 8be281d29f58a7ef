# Infrastructure targets: the CDK app in infra/ (see docs/deploy.md and docs/operations.md).
# Included by the root Makefile; paths are relative to the repository root.
#
#   make test-infra     infra Go tests (assertions, cdk-nag, context validation, the app's template through cfn-lint)
#   make synth          cdk synth + cfn-lint, offline and without AWS credentials
#   make cdk-bootstrap  one-time CDK bootstrap of the current account/region (needs credentials)
#   make diff / deploy / destroy
#   make outputs        print the deployed stack's outputs (Key<TAB>Value)
#   make fill-lwa-secret  edit the LWA secret's value in a private temporary file and store it
#   make sync           invoke the deployed function now and print its summary (AWS CLI v2)
#   make rotate SKILL=<skill id>   rotate one skill secret now
#   make list-secrets   every secret under the stack's prefix, with what made it
#
# Every target that acts on the deployed stack reads its outputs from
# CloudFormation (describe-stacks on $(STACK), current credentials and
# region), never from cdk.out/outputs.json, which an earlier deploy of
# another stack or account may have left behind.
#
# Configuration is the "context" in cdk.json; override per run with
#   make deploy CDK_FLAGS='-c alarmEmail=ops@example.com'
#
# The stack every target works on is the context's stackName: STACK=… on the
# command line, else -c stackName=… in CDK_FLAGS, else cdk.json's, else
# AlexaSkillCredentials. Several deployments in one account (docs/deploy.md,
# "Several developer accounts") each have their own:
#   make deploy STACK=AgencyB CDK_FLAGS='-c lwaSecretName=agency-b/lwa -c skillSecretPrefix=agency-b/skills/'

CDK_DIR   := .cdk
CDK       := $(CDK_DIR)/node_modules/.bin/cdk
CDK_OUT   := cdk.out
CDK_FLAGS ?=

# STACK is computed once, when a target first needs it.
ifeq ($(origin STACK),undefined)
STACK = $(eval STACK := $(or $(shell $(stack_from_flags)),$(shell $(stack_from_cdk_json)),AlexaSkillCredentials))$(STACK)
endif
stack_from_flags    = set -- $(CDK_FLAGS); while [ $$\# -gt 0 ]; do case "$$1" in -c|--context) shift; case "$$1" in stackName=*) v="$${1\#stackName=}";; esac;; -c=stackName=*|--context=stackName=*) v="$${1\#*=stackName=}";; esac; shift; done; printf '%s' "$$v"
stack_from_cdk_json = sed -n 's/^ *"stackName": *"\([^"]*\)".*/\1/p' cdk.json
# CDK_ARGS are the flags of every cdk command that synthesizes the app: the
# operator's CDK_FLAGS, then the stack's name, which wins over an earlier
# -c stackName (the CLI keeps a key's last value).
CDK_ARGS = $(CDK_FLAGS) -c stackName=$(STACK)

# The jsii kernel runs on Node 20 here and prints an end-of-life banner on
# every run; the CLI's telemetry is also off in cdk.json ("cli-telemetry").
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CDK_DISABLE_CLI_TELEMETRY := 1

# cfn-lint's settings (the rules it ignores, and why) are in .cfnlintrc.yaml,
# which it reads from the repository root.

.PHONY: test-infra synth cdk-cli cdk-bootstrap diff deploy deploy-sync-summary destroy sync rotate outputs fill-lwa-secret list-secrets

## test-infra: the infra tests, among them the app synthesized as cdk synth runs it and checked by cfn-lint
# (make synth does the same through the CDK CLI; CI runs it after make test).
# -count=1: the tests read cdk.json and build ./lambda, outside the Go build
# graph of ./infra, so cached results could be stale. A cold build of the CDK
# bindings alone takes minutes on small machines: hence the long timeout.
test-infra:
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
	  echo "cfn-lint not found: make python-tools installs the version of requirements-dev.txt"; exit 1; }
	AWS_EC2_METADATA_DISABLED=true $(CDK) synth --no-notices --quiet --output $(CDK_OUT) $(CDK_ARGS) $(STACK)
	cfn-lint -- $(CDK_OUT)/$(STACK).template.json
	@echo "synth: $(CDK_OUT)/$(STACK).template.json passed cdk-nag and cfn-lint"

## cdk-bootstrap: prepare the current AWS account and region for CDK deployments (once)
cdk-bootstrap: cdk-cli
	$(CDK) bootstrap $(CDK_FLAGS)

## diff: what a deploy would change in the deployed stack
diff: cdk-cli
	$(CDK) diff $(CDK_ARGS) $(STACK)

## deploy: build, synth and deploy; asks before widening any IAM permission or security group; then prints the deploy-time sync's summary
# The deploy-time sync ran in this deploy exactly when its custom resource's
# physical id (infra/deploysync.go, deploySyncID) changed. The summary is
# shell code in this recipe, not a recursive $(MAKE): make -n runs every
# recipe line that names $(MAKE), which would deploy under make -n.
deploy: cdk-cli
	@sync_before=$$($(deploy_sync_id)); sync_start=$$(node -e 'console.log(Date.now())'); \
	$(CDK) deploy --require-approval broadening --outputs-file $(CDK_OUT)/outputs.json $(CDK_ARGS) $(STACK) && \
	{ $(deploy_sync_summary); }

# $(deploy_sync_id) is shell code printing the physical id of the deployed
# stack's deploy-time sync, or nothing before the first deploy.
deploy_sync_id = aws cloudformation describe-stack-resources --stack-name $(STACK) --output text \
	  --query "StackResources[?ResourceType=='Custom::DeploySync'].PhysicalResourceId" 2>/dev/null || true

# How long deploy-sync-summary waits for the sync's log lines to reach
# CloudWatch Logs (checks, seconds apart).
SUMMARY_POLLS    ?= 12
SUMMARY_INTERVAL ?= 5

## deploy-sync-summary: print the deploy-time sync's summary from the function's log (make deploy runs it)
# DEPLOY_SYNC_BEFORE is the sync's physical id before the deploy, DEPLOY_START
# the deploy's start in milliseconds since the epoch (default: an hour ago,
# and the sync counts as run).
deploy-sync-summary:
	@sync_before='$(DEPLOY_SYNC_BEFORE)'; sync_start='$(DEPLOY_START)'; $(deploy_sync_summary)

# $(deploy_sync_summary) is shell code printing the summary of the deploy-time
# sync, given the shell variables sync_before (its physical id before the
# deploy) and sync_start (the deploy's start, ms since the epoch; empty: an
# hour ago, and the sync counts as run).
deploy_sync_summary = after=$$($(deploy_sync_id)); \
	if [ -n "$$sync_start" ] && [ "$$after" = "$$sync_before" ]; then \
	  echo "deploy-time sync: not run (the function's code and configuration and the skill list are unchanged)"; exit 0; fi; \
	lg=$$($(call stack_output,SyncFunctionLogGroup)); \
	if [ -z "$$lg" ]; then echo "deploy-time sync: no SyncFunctionLogGroup output of stack $(STACK)"; exit 1; fi; \
	start="$$sync_start"; [ -n "$$start" ] || start=$$(node -e 'console.log(Date.now() - 3600e3)'); \
	i=0; while :; do \
	  lines=$$(aws logs filter-log-events --log-group-name "$$lg" --start-time "$$start" \
	    --filter-pattern '{ $$.run = "deploy" }' --query 'events[].message' --output json) || exit 1; \
	  if printf '%s' "$$lines" | node -e "$$DEPLOY_SUMMARY_JS"; then exit 0; fi; \
	  i=$$((i + 1)); if [ $$i -ge $(SUMMARY_POLLS) ]; then break; fi; sleep $(SUMMARY_INTERVAL); \
	done; \
	echo "deploy-time sync: its summary is not in $$lg yet; see it later with: aws logs tail $$lg --since 1h --filter-pattern '{ \$$.run = \"deploy\" }'"

# DEPLOY_SUMMARY_JS reads the JSON list of log messages on stdin, prints the
# summary of the last deploy-time run (each failed skill with its error and
# request id), and exits 1 when there is none yet.
export DEPLOY_SUMMARY_JS := \
	const msgs = JSON.parse(require("fs").readFileSync(0, "utf8") || "[]").map(m => { try { return JSON.parse(m) } catch (e) { return {} } }); \
	const sum = msgs.filter(m => m.msg === "sync finished").pop(); \
	if (!sum) process.exit(1); \
	const skipped = msgs.filter(m => m.msg === "deploy-time sync skipped").pop(); \
	console.log(`deploy-time sync: $${sum.skills} skill(s): $${sum.updated} updated, $${sum.unchanged} unchanged, $${sum.failed} failed ($${sum.duration_ms} ms)`); \
	if (skipped) console.log(`  $${skipped.reason}`); \
	else if (sum.error) console.log(`  $${sum.error}`);

## destroy: delete the stack (the KMS key and the secrets are retained; skill Lambdas lose the reader policies: read docs/operations.md#tearing-down first)
destroy: cdk-cli
	$(CDK) destroy $(CDK_ARGS) $(STACK)

# $(call stack_output,Key) is shell code printing the output Key of the
# deployed stack $(STACK), from CloudFormation (current AWS credentials and
# region); empty if the stack has no such output.
stack_output = aws cloudformation describe-stacks --stack-name $(STACK) --output text \
	    --query "Stacks[0].Outputs[?OutputKey=='$(1)'].OutputValue"

# $(call need_aws,target,major) is shell code that stops the recipe with a
# message unless the aws CLI is on PATH, and with major 2, unless it is AWS
# CLI v2 (v1 lacks options the target uses, e.g. --cli-binary-format).
need_aws = v=$$(aws --version 2>&1) || { echo "$(1): the AWS CLI (aws) is not on PATH: https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html"; exit 1; }; \
	case "$$v" in aws-cli/[$(2)-9].*) ;; *) echo "$(1): needs AWS CLI v$(2) or later; found $${v%% *}: https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html"; exit 1;; esac

## outputs: print the deployed stack's outputs, one Key<TAB>Value a line (the names docs/operations.md uses)
outputs:
	@$(call need_aws,outputs,1); \
	aws cloudformation describe-stacks --stack-name $(STACK) --output text \
	  --query "Stacks[0].Outputs[].[OutputKey, OutputValue]"

## list-secrets: every secret under the stack's SkillSecretPrefix: name, "true" if the function created it, the stack's name if the stack did
list-secrets:
	@$(call need_aws,list-secrets,1); \
	prefix=$$($(call stack_output,SkillSecretPrefix)); \
	if [ -z "$$prefix" ]; then echo "list-secrets: no SkillSecretPrefix output of stack $(STACK): run make deploy first (or check AWS_PROFILE/AWS_REGION)"; exit 1; fi; \
	aws secretsmanager list-secrets --filters Key=name,Values="$$prefix" --output text \
	  --query 'SecretList[].[Name, Tags[?Key==`alexa-skill-credentials:managed`].Value | [0], Tags[?Key==`aws:cloudformation:stack-name`].Value | [0]]'

## fill-lwa-secret: open $$EDITOR on a private temporary file (mktemp, outside the repository), store it as the LWA secret's value, delete it
# The value never passes through a command line or the shell history: the
# editor writes the file, the CLI reads it (file://), and the file is removed
# whatever happens (trap).
fill-lwa-secret:
	@$(call need_aws,fill-lwa-secret,1); \
	arn=$$($(call stack_output,LwaSecretArn)); \
	if [ -z "$$arn" ]; then echo "fill-lwa-secret: no LwaSecretArn output of stack $(STACK): run make deploy first (or check AWS_PROFILE/AWS_REGION)"; exit 1; fi; \
	f=$$(mktemp) || exit 1; trap 'rm -f "$$f"' EXIT INT TERM; \
	printf '{"clientId": "", "clientSecret": "", "refreshToken": ""}\n' > "$$f"; \
	$${EDITOR:-vi} "$$f" || { echo "fill-lwa-secret: the editor failed; nothing stored"; exit 1; }; \
	aws secretsmanager put-secret-value --secret-id "$$arn" --secret-string "file://$$f" --query VersionId --output text >/dev/null && \
	echo "fill-lwa-secret: stored as a new version of $$arn; now run make sync"

# The function runs for at most 5 minutes: the CLI must wait longer than its
# default 60 s for the synchronous answer.
SYNC_READ_TIMEOUT := 330

## sync: invoke the deployed function now with {} (every skill), print the summary; fails if the function reported an error
sync:
	@$(call need_aws,sync,2); \
	fn=$$($(call stack_output,SyncFunctionName)); \
	if [ -z "$$fn" ]; then echo "sync: no SyncFunctionName output of stack $(STACK): run make deploy first (or check AWS_PROFILE/AWS_REGION)"; exit 1; fi; \
	mkdir -p $(CDK_OUT); echo "sync: invoking $$fn (every skill)"; \
	err=$$(aws lambda invoke --function-name "$$fn" --payload '{}' --cli-binary-format raw-in-base64-out \
	  --cli-read-timeout $(SYNC_READ_TIMEOUT) --query FunctionError --output text $(CDK_OUT)/sync-result.json) || exit 1; \
	cat $(CDK_OUT)/sync-result.json; echo; \
	if [ "$$err" != "None" ]; then \
	  echo "sync: the function reported an error ($$err); the summary or error is above, details in its log group (SyncFunctionLogGroup output)"; exit 1; fi

## rotate: rotate one skill secret now, SKILL=<skill id> (what "Rotate secret immediately" does in the console)
rotate:
	@$(call need_aws,rotate,1); \
	skill='$(SKILL)'; \
	if ! printf '%s' "$$skill" | grep -Eq '^amzn1\.(ask\.skill|echo-sdk-ams\.app)\.[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$$'; then \
	  echo "usage: make rotate SKILL=amzn1.ask.skill.<uuid>"; exit 1; fi; \
	prefix=$$($(call stack_output,SkillSecretPrefix)); \
	if [ -z "$$prefix" ]; then echo "rotate: no SkillSecretPrefix output of stack $(STACK): run make deploy first (or check AWS_PROFILE/AWS_REGION)"; exit 1; fi; \
	aws secretsmanager rotate-secret --secret-id "$$prefix$$skill" && \
	echo "rotate: started; Secrets Manager runs the four steps in the background: aws secretsmanager describe-secret --secret-id '$$prefix$$skill' shows the versions, the function's log group each step"
