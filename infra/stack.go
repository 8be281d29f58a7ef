package main

import (
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/contract"
)

// LWASecretPlaceholder is the value the LWA secret is created with. The
// function reads empty values as "not configured yet" and keeps extra keys
// such as _instructions when it writes a rotated refresh token.
//
// Do not change it: CloudFormation writes SecretString again when the
// template's value changes, which would replace the operator's credentials
// with this placeholder on the next deploy.
const LWASecretPlaceholder = `{"clientId": "", "clientSecret": "", "refreshToken": "", "_instructions": "Replace this value with the LWA security profile's clientId and clientSecret and a refreshToken with scope alexa::ask:skills:readwrite (ask util generate-lwa-tokens), as the README section Deploy shows."}`

// Function sizing: a 1,000-skill sync takes about 7 s against SMAPI-like
// latencies and a few tens of MB; 256 MB also buys CPU for TLS.
const (
	functionMemoryMB = 256
	functionTimeout  = 5 * time.Minute
)

// Delivery from the schedule to the function. EventBridge retries when
// Lambda does not accept the event (throttling, service errors); events
// older than maxEventAge or past the retries go to the dead-letter queue.
const (
	scheduleRetryAttempts = 4
	scheduleMaxEventAge   = time.Hour
	// functionAsyncRetries are Lambda's own retries of a failed run: none.
	// A run that fails for some skills has already retried each SMAPI
	// call (smapi.Retrier: throttling, 5xx, timeouts); rerunning the whole
	// run would only repeat every skill's call, and a skill that fails
	// permanently (401, 404) would cost three calls per run forever. The
	// failed run's event and error go to the on-failure queue instead, and
	// the alarms report it.
	functionAsyncRetries = 0
)

// keptPolicy is the removal policy of the key and the secrets: kept when
// the stack is updated (replaced, or removed from the template) or deleted,
// so credentials are never lost by accident, but deleted when the stack's
// first create fails and rolls back (DeletionPolicy RetainExceptOnCreate),
// so a failed first deploy leaves nothing behind to clash with the next one.
// CloudFormation deletes a secret without a recovery window, which frees
// its name at once.
var keptPolicy = awscdk.RemovalPolicy_RETAIN_ON_UPDATE_OR_DELETE

// maxSkillOutputs caps the per-skill ARN outputs (CloudFormation allows 200
// outputs per template); past it only the prefix and ARN pattern are output.
const maxSkillOutputs = 150

// SkillCredentialsStackProps configures NewSkillCredentialsStack.
type SkillCredentialsStackProps struct {
	awscdk.StackProps
	// Config is the validated configuration, from LoadConfig.
	Config *Config
	// FunctionCodeDir is a directory holding only the function's bootstrap
	// binary, from BuildFunction. The asset hash is the hash of its content.
	// When the function creates the declared skills' secrets, the stack
	// writes SkillIDsFile into it.
	FunctionCodeDir string
}

// NewSkillCredentialsStack defines the whole system: the KMS key, the LWA and
// skill secrets, the sync function and its schedule, the dead-letter queue,
// and the alarms with their topic. It panics if props.Config is invalid
// (LoadConfig has already reported that as an error).
func NewSkillCredentialsStack(scope constructs.Construct, id string, props *SkillCredentialsStackProps) awscdk.Stack {
	cfg := props.Config
	if cfg == nil {
		panic("NewSkillCredentialsStack: props.Config is nil")
	}
	if err := cfg.Validate(); err != nil {
		panic(fmt.Sprintf("NewSkillCredentialsStack: %v", err))
	}
	if err := writeSkillIDsFile(cfg, props.FunctionCodeDir); err != nil {
		panic(fmt.Sprintf("NewSkillCredentialsStack: %v", err))
	}
	stack := awscdk.NewStack(scope, jsii.String(id), &props.StackProps)

	key := newKey(stack)

	lwaSecret := awssecretsmanager.NewSecret(stack, jsii.String("LwaSecret"), &awssecretsmanager.SecretProps{
		SecretName:        jsii.String(cfg.LWASecretName),
		Description:       jsii.String("LWA client id, client secret and refresh token (scope alexa::ask:skills:readwrite) used by the skill credential sync"),
		EncryptionKey:     key,
		SecretStringValue: awscdk.SecretValue_UnsafePlainText(jsii.String(LWASecretPlaceholder)),
		RemovalPolicy:     keptPolicy,
	})
	cdknag.NagSuppressions_AddResourceSuppressions(lwaSecret, &[]*cdknag.NagPackSuppression{{
		Id:     jsii.String("AwsSolutions-SMG4"),
		Reason: jsii.String("The LWA client secret is issued in the Amazon developer console and cannot be rotated by a Lambda; the refresh token is rotated by the sync function itself, which writes a new version whenever LWA returns a new one."),
	}}, jsii.Bool(false))

	skillSecrets := constructs.NewConstruct(stack, jsii.String("SkillSecrets"))
	skillSecretList := make([]awssecretsmanager.Secret, 0, len(cfg.StackSkillIDs()))
	for _, skillID := range cfg.StackSkillIDs() {
		s := awssecretsmanager.NewSecret(skillSecrets, jsii.String(skillID), &awssecretsmanager.SecretProps{
			SecretName:        jsii.String(cfg.SkillSecretName(skillID)),
			Description:       jsii.String("Alexa skill messaging client id and secret of " + skillID + ", kept current by the skill credential sync"),
			EncryptionKey:     key,
			SecretStringValue: awscdk.SecretValue_UnsafePlainText(jsii.String(skillSecretInitialValue(skillID))),
			RemovalPolicy:     keptPolicy,
		})
		skillSecretList = append(skillSecretList, s)
	}
	skillSecretPattern := stack.FormatArn(&awscdk.ArnComponents{
		Service:      jsii.String("secretsmanager"),
		Resource:     jsii.String("secret"),
		ResourceName: jsii.String(cfg.SkillSecretPrefix + "*"),
		ArnFormat:    awscdk.ArnFormat_COLON_RESOURCE_NAME,
	})

	failedRuns := newQueue(stack, "FailedRunsQueue", "This queue is itself the on-failure destination of the function's asynchronous invocations: it keeps each failed scheduled run's event and error for 14 days.")
	fn := newFunction(stack, cfg, props.FunctionCodeDir, key, lwaSecret, skillSecretPattern, failedRuns)
	newSecretCreation(stack, cfg, fn, key, skillSecretPattern)

	dlq := newQueue(stack, "ScheduleDeadLetterQueue", "This queue is itself the dead-letter queue of the schedule rule's target; an alarm fires on any message in it.")

	rule := awsevents.NewRule(stack, jsii.String("Schedule"), &awsevents.RuleProps{
		Description: jsii.String("Runs the skill credential sync"),
		Schedule:    awsevents.Schedule_Expression(jsii.String(cfg.Schedule.Expression)),
	})
	rule.AddTarget(awseventstargets.NewLambdaFunction(fn, &awseventstargets.LambdaFunctionProps{
		DeadLetterQueue: dlq,
		RetryAttempts:   jsii.Number(scheduleRetryAttempts),
		MaxEventAge:     awscdk.Duration_Seconds(jsii.Number(scheduleMaxEventAge.Seconds())),
	}))

	alarms := newAlarms(stack, cfg, fn, dlq)
	dashboard := newDashboard(stack, fn, dlq, failedRuns, alarms)

	deploySync := newDeploySync(stack, cfg, props.FunctionCodeDir, fn, lwaSecret, skillSecretList)
	newRotationSchedules(stack, cfg, fn, skillSecretList, deploySync)
	readerPolicies := newReaderPolicies(stack, cfg, key, skillSecretPattern, fn.FunctionArn())

	newOutputs(stack, cfg, key, lwaSecret, skillSecretList, skillSecretPattern, fn, alarms.topic, readerPolicies, failedRuns, dashboard)
	newOperatorOutputs(stack, cfg, fn, dlq)
	return stack
}

// skillSecretInitialValue is a skill secret's value until its first sync.
func skillSecretInitialValue(skillID string) string {
	return `{"skillId": "` + skillID + `"}` // skillID is validated: no quoting needed
}

// newKey creates the customer-managed key of the secrets. Only Secrets
// Manager uses it, on behalf of the function and the reader roles (their
// policies allow it only through Secrets Manager): the queues and the alarm
// topic have keys of their own.
func newKey(stack awscdk.Stack) awskms.Key {
	return awskms.NewKey(stack, jsii.String("Key"), &awskms.KeyProps{
		Description:       jsii.String("Alexa skill credentials: the LWA and skill secrets"),
		EnableKeyRotation: jsii.Bool(true),
		// Kept with the secrets it encrypts: deleting it would make them unreadable.
		RemovalPolicy: keptPolicy,
	})
}

// newQueue creates a queue that keeps failed deliveries for 14 days,
// encrypted with SQS's own key (SSE-SQS): EventBridge and Lambda may send to
// it without any key policy. reason explains, for cdk-nag, why the queue has
// no dead-letter queue of its own.
func newQueue(stack awscdk.Stack, id, reason string) awssqs.Queue {
	q := awssqs.NewQueue(stack, jsii.String(id), &awssqs.QueueProps{
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
		EnforceSSL:      jsii.Bool(true),
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(14)),
	})
	cdknag.NagSuppressions_AddResourceSuppressions(q, &[]*cdknag.NagPackSuppression{{
		Id:     jsii.String("AwsSolutions-SQS3"),
		Reason: jsii.String(reason),
	}}, jsii.Bool(false))
	return q
}

// newTopicKey creates the key of the alarm topic. CloudWatch publishes to an
// encrypted topic through its service principal, which needs the key
// policy's permission: without it the notifications fail without any error
// anyone sees (and the AWS-managed aws/sns key cannot grant it). No
// aws:SourceAccount condition: AWS's example for this delivery has none.
func newTopicKey(stack awscdk.Stack) awskms.Key {
	key := awskms.NewKey(stack, jsii.String("AlarmTopicKey"), &awskms.KeyProps{
		Description:       jsii.String("Alexa skill credentials: the alarm topic"),
		EnableKeyRotation: jsii.Bool(true),
		PendingWindow:     awscdk.Duration_Days(jsii.Number(7)),
		// It protects only notifications in flight.
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        jsii.String("AllowCloudWatchToPublishToTheAlarmTopic"),
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String("cloudwatch.amazonaws.com"), nil)},
		Actions:    jsii.Strings("kms:Decrypt", "kms:GenerateDataKey"),
		Resources:  jsii.Strings("*"), // in a key policy, "*" is this key
	}), jsii.Bool(false))
	return key
}

func newFunction(stack awscdk.Stack, cfg *Config, codeDir string, key awskms.Key, lwaSecret awssecretsmanager.Secret, skillSecretPattern *string, failedRuns awssqs.Queue) awslambda.Function {
	logGroup := awslogs.NewLogGroup(stack, jsii.String("SyncFunctionLogs"), &awslogs.LogGroupProps{
		Retention:     retention(cfg.LogRetentionDays),
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})

	// An explicit role: the default one carries the AWSLambdaBasicExecutionRole
	// managed policy (logs:* on every log group).
	role := awsiam.NewRole(stack, jsii.String("SyncFunctionRole"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
		Description: jsii.String("Skill credential sync function"),
	})
	statements := []*awsiam.PolicyStatementProps{
		{
			Sid:       jsii.String("WriteOwnLogs"),
			Actions:   jsii.Strings("logs:CreateLogStream", "logs:PutLogEvents"),
			Resources: &[]*string{logGroup.LogGroupArn()},
		},
		{
			Sid:       jsii.String("ReadAndRotateLwaSecret"),
			Actions:   jsii.Strings("secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue"),
			Resources: &[]*string{lwaSecret.SecretArn()},
		},
		{
			// The pattern ends in * for the random six-character suffix of
			// every secret ARN, and for the skill ids after the prefix.
			// UpdateSecretVersionStage is finishSecret's move of AWSCURRENT
			// to the rotated version; the other three serve both the sync
			// and the rotation steps.
			Sid:       jsii.String("SyncAndRotateSkillSecrets"),
			Actions:   jsii.Strings("secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret", "secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage"),
			Resources: &[]*string{skillSecretPattern},
		},
		{
			Sid:       jsii.String("DiscoverSkillSecrets"),
			Actions:   jsii.Strings("secretsmanager:ListSecrets"),
			Resources: jsii.Strings("*"),
		},
		{
			// BatchGetSecretValue takes no resource: what it may read is
			// what GetSecretValue allows above, secret by secret (and, with
			// a name filter, ListSecrets).
			Sid:       jsii.String("BatchReadSkillSecrets"),
			Actions:   jsii.Strings("secretsmanager:BatchGetSecretValue"),
			Resources: jsii.Strings("*"),
		},
		{
			Sid:       jsii.String("UseKeyThroughSecretsManager"),
			Actions:   jsii.Strings("kms:Decrypt", "kms:GenerateDataKey"),
			Resources: &[]*string{key.KeyArn()},
			Conditions: &map[string]any{"StringEquals": map[string]any{
				"kms:ViaService": "secretsmanager." + *awscdk.Aws_REGION() + ".amazonaws.com",
			}},
		},
		{
			// Lambda sends the on-failure record of an asynchronous
			// invocation with the function's role (the queue uses SSE-SQS:
			// no KMS permission needed).
			Sid:       jsii.String("SendFailedRunsToQueue"),
			Actions:   jsii.Strings("sqs:SendMessage"),
			Resources: &[]*string{failedRuns.QueueArn()},
		},
	}
	for _, s := range statements {
		role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(s))
	}
	// On the role's policy, where the findings are (not on the role).
	cdknag.NagSuppressions_AddResourceSuppressions(role.Node().FindChild(jsii.String("DefaultPolicy")), &[]*cdknag.NagPackSuppression{
		{
			Id:        jsii.String("AwsSolutions-IAM5"),
			Reason:    jsii.String("secretsmanager:ListSecrets and secretsmanager:BatchGetSecretValue do not support resource-level permissions; the function reads the secrets under the skill secret prefix 20 at a time to find and compare the skills to sync, and BatchGetSecretValue returns only secrets the role may GetSecretValue, which is scoped to that prefix."),
			AppliesTo: &[]any{"Resource::*"},
		},
		{
			Id:        jsii.String("AwsSolutions-IAM5"),
			Reason:    jsii.String("Scoped to the skill secret name prefix: the skills are configured at deploy time and the trailing * also covers the random suffix Secrets Manager appends to every secret ARN."),
			AppliesTo: &[]any{"Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:" + cfg.SkillSecretPrefix + "*"},
		},
	}, jsii.Bool(true))

	fn := awslambda.NewFunction(stack, jsii.String("SyncFunction"), &awslambda.FunctionProps{
		Description:   jsii.String("Copies Alexa skill messaging credentials from SMAPI into Secrets Manager"),
		Runtime:       awslambda.Runtime_PROVIDED_AL2023(),
		Architecture:  awslambda.Architecture_ARM_64(),
		Handler:       jsii.String("bootstrap"),
		Code:          awslambda.Code_FromAsset(jsii.String(codeDir), nil),
		MemorySize:    jsii.Number(functionMemoryMB),
		Timeout:       awscdk.Duration_Seconds(jsii.Number(functionTimeout.Seconds())),
		LoggingFormat: awslambda.LoggingFormat_JSON,
		LogGroup:      logGroup,
		Role:          role,
		RetryAttempts: jsii.Number(functionAsyncRetries),
		MaxEventAge:   awscdk.Duration_Seconds(jsii.Number(scheduleMaxEventAge.Seconds())),
		Environment: &map[string]*string{
			contract.EnvLWASecretID:       lwaSecret.SecretArn(),
			contract.EnvSkillSecretPrefix: jsii.String(cfg.SkillSecretPrefix),
			contract.EnvSyncConcurrency:   jsii.String(strconv.Itoa(cfg.SyncConcurrency)),
		},
	})
	// The on-failure destination, set on the event invoke config directly:
	// the L2 SqsDestination would add its own unnamed grant (with
	// GetQueueAttributes and GetQueueUrl, which Lambda does not need) next
	// to SendFailedRunsToQueue above.
	invokeConfig := fn.Node().FindChild(jsii.String("EventInvokeConfig")).Node().DefaultChild().(awscdk.CfnResource)
	invokeConfig.AddPropertyOverride(jsii.String("DestinationConfig.OnFailure.Destination"), failedRuns.QueueArn())
	return fn
}

func newOutputs(stack awscdk.Stack, cfg *Config, key awskms.Key, lwaSecret awssecretsmanager.Secret, skillSecrets []awssecretsmanager.Secret, skillSecretPattern *string, fn awslambda.Function, topic awssns.Topic, readerPolicies []awsiam.ManagedPolicy, failedRuns awssqs.Queue, dashboard awscloudwatch.Dashboard) {
	out := func(scope constructs.Construct, id, description string, value *string) {
		awscdk.NewCfnOutput(scope, jsii.String(id), &awscdk.CfnOutputProps{
			Description: jsii.String(description),
			Value:       value,
		})
	}
	// The value goes from an editor to a private temporary file (mktemp:
	// mode 0600, outside the repository) to the CLI, never through a
	// command line (docs/deploy.md, step 4).
	fillCommand := `f=$(mktemp) && "${EDITOR:-vi}" "$f" && aws secretsmanager put-secret-value --region ` + *awscdk.Aws_REGION() +
		" --secret-id " + *lwaSecret.SecretArn() + ` --secret-string "file://$f"; rm -f "$f"`
	nextSteps := "If the LWA secret still holds its placeholder (first deploy: the deploy-time sync skipped every skill), " +
		"run: make fill-lwa-secret (docs/deploy.md, step 4; by hand, the FillLwaSecretCommand output)" +
		", then run: make sync (invokes " + *fn.FunctionName() + " and prints the summary; it fails if a skill failed)."
	if cfg.AlarmEmail == "" {
		nextSteps += " Nobody is notified of the alarms: alarmEmail is not set. Set it in cdk.json and deploy again, or subscribe to the topic " + *topic.TopicArn() + "."
	}
	out(stack, "NextSteps", "What to do after the first deploy", jsii.String(nextSteps))
	out(stack, "LwaSecretArn", "ARN of the LWA secret (client id, client secret, refresh token)", lwaSecret.SecretArn())
	out(stack, "FillLwaSecretCommand", "Opens $EDITOR on a private temporary file and stores it as the LWA secret's value (docs/deploy.md, step 4; make fill-lwa-secret does the same)", jsii.String(fillCommand))
	out(stack, "SkillSecretPrefix", "Name prefix of the skill secrets; the function syncs every secret under it", jsii.String(cfg.SkillSecretPrefix))
	out(stack, "SkillSecretArnPattern", "IAM resource pattern matching every skill secret, for skill Lambdas' policies", skillSecretPattern)
	if ids := cfg.StackSkillIDs(); len(ids) <= maxSkillOutputs {
		for i, skillID := range ids {
			out(skillSecrets[i], "Arn", "ARN of the skill secret of "+skillID, skillSecrets[i].SecretArn())
		}
	}
	out(stack, "SyncFunctionName", "Name of the sync function (invoke it to sync now)", fn.FunctionName())
	out(stack, "SyncFunctionLogGroup", "Log group of the sync function (JSON lines)", fn.LogGroup().LogGroupName())
	out(stack, "DashboardUrl", "CloudWatch dashboard of the sync: alarms, runs, skills, duration, SMAPI retries, queues, last failures",
		jsii.String("https://console.aws.amazon.com/cloudwatch/home?region="+*awscdk.Aws_REGION()+"#dashboards/dashboard/"+*dashboard.DashboardName()))
	out(stack, "FailedRunsQueueUrl", "Queue of the failed scheduled runs: each message is Lambda's record of one failed run, with its event and error", failedRuns.QueueUrl())
	out(stack, "AlarmTopicArn", "SNS topic of the alarms; subscribe to it for notifications", topic.TopicArn())
	out(stack, "KeyArn", "KMS key of the secrets; secrets created outside the stack under the prefix must use it", key.KeyArn())
	if len(readerPolicies) > 0 {
		arns := make([]*string, len(readerPolicies))
		for i, p := range readerPolicies {
			arns[i] = p.ManagedPolicyArn()
		}
		out(stack, "SkillSecretReaderPolicyArns", "Managed policies attached to the readerRoleArns (one per distinct skill list): GetSecretValue on their skill secrets, Decrypt through Secrets Manager",
			awscdk.Fn_Join(jsii.String(", "), &arns))
	}
}

// retentionDays maps the retention periods CloudWatch Logs accepts to the
// CDK enum.
var retentionDays = map[int]awslogs.RetentionDays{
	1: awslogs.RetentionDays_ONE_DAY, 3: awslogs.RetentionDays_THREE_DAYS, 5: awslogs.RetentionDays_FIVE_DAYS,
	7: awslogs.RetentionDays_ONE_WEEK, 14: awslogs.RetentionDays_TWO_WEEKS, 30: awslogs.RetentionDays_ONE_MONTH,
	60: awslogs.RetentionDays_TWO_MONTHS, 90: awslogs.RetentionDays_THREE_MONTHS, 120: awslogs.RetentionDays_FOUR_MONTHS,
	150: awslogs.RetentionDays_FIVE_MONTHS, 180: awslogs.RetentionDays_SIX_MONTHS, 365: awslogs.RetentionDays_ONE_YEAR,
	400: awslogs.RetentionDays_THIRTEEN_MONTHS, 545: awslogs.RetentionDays_EIGHTEEN_MONTHS, 731: awslogs.RetentionDays_TWO_YEARS,
	1096: awslogs.RetentionDays_THREE_YEARS, 1827: awslogs.RetentionDays_FIVE_YEARS, 2192: awslogs.RetentionDays_SIX_YEARS,
	2557: awslogs.RetentionDays_SEVEN_YEARS, 2922: awslogs.RetentionDays_EIGHT_YEARS, 3288: awslogs.RetentionDays_NINE_YEARS,
	3653: awslogs.RetentionDays_TEN_YEARS,
}

// retention maps days to the CDK enum; Validate has checked days.
func retention(days int) awslogs.RetentionDays {
	r, ok := retentionDays[days]
	if !ok {
		panic(fmt.Sprintf("retention: %d days has no RetentionDays", days))
	}
	return r
}
