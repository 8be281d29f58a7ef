package main

import (
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awskms"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// LWASecretPlaceholder is the value the LWA secret is created with. The
// function reads empty values as "not configured yet" and keeps extra keys
// such as _instructions when it writes a rotated refresh token.
//
// Do not change it: CloudFormation writes SecretString again when the
// template's value changes, which would replace the operator's credentials
// with this placeholder on the next deploy.
const LWASecretPlaceholder = `{"clientId": "", "clientSecret": "", "refreshToken": "", "_instructions": "Replace this value with the LWA security profile's clientId and clientSecret and a refreshToken with scope alexa::ask:skills:readwrite (ask util generate-lwa-tokens), as the README section Deploy shows."}`

// Metric names of the embedded-metric-format record the function writes at
// the end of every scheduled run, with dimension FunctionName.
const (
	MetricNamespace     = "AlexaSkillCredentials"
	MetricSyncSucceeded = "SyncSucceeded" // 1 when every skill synced, 0 otherwise
	MetricSkillsFailed  = "SkillsFailed"
	MetricSkillsUpdated = "SkillsUpdated"
)

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
	// functionAsyncRetries are Lambda's own retries of a failed run.
	functionAsyncRetries = 2
)

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
	stack := awscdk.NewStack(scope, jsii.String(id), &props.StackProps)

	key := newKey(stack)

	lwaSecret := awssecretsmanager.NewSecret(stack, jsii.String("LwaSecret"), &awssecretsmanager.SecretProps{
		SecretName:        jsii.String(cfg.LWASecretName),
		Description:       jsii.String("LWA client id, client secret and refresh token (scope alexa::ask:skills:readwrite) used by the skill credential sync"),
		EncryptionKey:     key,
		SecretStringValue: awscdk.SecretValue_UnsafePlainText(jsii.String(LWASecretPlaceholder)),
		RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
	})
	cdknag.NagSuppressions_AddResourceSuppressions(lwaSecret, &[]*cdknag.NagPackSuppression{{
		Id:     jsii.String("AwsSolutions-SMG4"),
		Reason: jsii.String("The LWA client secret is issued in the Amazon developer console and cannot be rotated by a Lambda; the refresh token is rotated by the sync function itself, which writes a new version whenever LWA returns a new one."),
	}}, jsii.Bool(false))

	skillSecrets := constructs.NewConstruct(stack, jsii.String("SkillSecrets"))
	skillSecretList := make([]awssecretsmanager.Secret, 0, len(cfg.SkillIDs))
	for _, skillID := range cfg.SkillIDs {
		s := awssecretsmanager.NewSecret(skillSecrets, jsii.String(skillID), &awssecretsmanager.SecretProps{
			SecretName:        jsii.String(cfg.SkillSecretName(skillID)),
			Description:       jsii.String("Alexa skill messaging client id and secret of " + skillID + ", kept current by the skill credential sync"),
			EncryptionKey:     key,
			SecretStringValue: awscdk.SecretValue_UnsafePlainText(jsii.String(skillSecretInitialValue(skillID))),
			RemovalPolicy:     awscdk.RemovalPolicy_RETAIN,
		})
		skillSecretList = append(skillSecretList, s)
	}
	cdknag.NagSuppressions_AddResourceSuppressions(skillSecrets, &[]*cdknag.NagPackSuppression{{
		Id:     jsii.String("AwsSolutions-SMG4"),
		Reason: jsii.String("Skill messaging credentials are issued by SMAPI, not generated here: the scheduled sync function re-reads them from SMAPI and writes a new version only when they change."),
	}}, jsii.Bool(true))
	skillSecretPattern := stack.FormatArn(&awscdk.ArnComponents{
		Service:      jsii.String("secretsmanager"),
		Resource:     jsii.String("secret"),
		ResourceName: jsii.String(cfg.SkillSecretPrefix + "*"),
		ArnFormat:    awscdk.ArnFormat_COLON_RESOURCE_NAME,
	})

	fn := newFunction(stack, cfg, props.FunctionCodeDir, key, lwaSecret, skillSecretPattern)

	dlq := awssqs.NewQueue(stack, jsii.String("ScheduleDeadLetterQueue"), &awssqs.QueueProps{
		Encryption:          awssqs.QueueEncryption_KMS,
		EncryptionMasterKey: key,
		EnforceSSL:          jsii.Bool(true),
		RetentionPeriod:     awscdk.Duration_Days(jsii.Number(14)),
	})
	cdknag.NagSuppressions_AddResourceSuppressions(dlq, &[]*cdknag.NagPackSuppression{{
		Id:     jsii.String("AwsSolutions-SQS3"),
		Reason: jsii.String("This queue is itself the dead-letter queue of the schedule rule's target; an alarm fires on any message in it."),
	}}, jsii.Bool(false))

	rule := awsevents.NewRule(stack, jsii.String("Schedule"), &awsevents.RuleProps{
		Description: jsii.String("Runs the skill credential sync"),
		Schedule:    awsevents.Schedule_Expression(jsii.String(cfg.Schedule.Expression)),
	})
	rule.AddTarget(awseventstargets.NewLambdaFunction(fn, &awseventstargets.LambdaFunctionProps{
		DeadLetterQueue: dlq,
		RetryAttempts:   jsii.Number(scheduleRetryAttempts),
		MaxEventAge:     awscdk.Duration_Seconds(jsii.Number(scheduleMaxEventAge.Seconds())),
	}))

	topic := newAlarms(stack, cfg, key, fn, dlq)

	deploySync := newDeploySync(stack, cfg, props.FunctionCodeDir, fn, lwaSecret, skillSecretList)
	newRotationSchedules(stack, cfg, fn, skillSecretList, deploySync)
	readerPolicy := newReaderPolicy(stack, cfg, key, skillSecretPattern)

	newOutputs(stack, cfg, key, lwaSecret, skillSecretList, skillSecretPattern, fn, topic, readerPolicy)
	return stack
}

// skillSecretInitialValue is a skill secret's value until its first sync.
func skillSecretInitialValue(skillID string) string {
	return `{"skillId": "` + skillID + `"}` // skillID is validated: no quoting needed
}

// newKey creates the customer-managed key of every secret, the dead-letter
// queue and the alarm topic. EventBridge writes to the encrypted queue and
// CloudWatch publishes to the encrypted topic through their service
// principals, which need the key policy's permission: without it the
// deliveries fail without any error anyone sees.
func newKey(stack awscdk.Stack) awskms.Key {
	key := awskms.NewKey(stack, jsii.String("Key"), &awskms.KeyProps{
		Description:       jsii.String("Alexa skill credentials: secrets, schedule dead-letter queue and alarm topic"),
		EnableKeyRotation: jsii.Bool(true),
		// Retained with the secrets it encrypts: deleting it would make them unreadable.
		RemovalPolicy: awscdk.RemovalPolicy_RETAIN,
	})
	// No aws:SourceAccount condition: AWS's examples for these two
	// deliveries have none, and a service that does not send the key in its
	// request context would be denied without any error anyone sees.
	for _, p := range []struct{ sid, service string }{
		{"AllowEventBridgeToUseTheDeadLetterQueue", "events.amazonaws.com"},
		{"AllowCloudWatchToPublishToTheAlarmTopic", "cloudwatch.amazonaws.com"},
	} {
		key.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:        jsii.String(p.sid),
			Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(jsii.String(p.service), nil)},
			Actions:    jsii.Strings("kms:Decrypt", "kms:GenerateDataKey"),
			Resources:  jsii.Strings("*"), // in a key policy, "*" is this key
		}), jsii.Bool(false))
	}
	return key
}

func newFunction(stack awscdk.Stack, cfg *Config, codeDir string, key awskms.Key, lwaSecret awssecretsmanager.Secret, skillSecretPattern *string) awslambda.Function {
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
	}
	for _, s := range statements {
		role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(s))
	}
	cdknag.NagSuppressions_AddResourceSuppressions(role, &[]*cdknag.NagPackSuppression{
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

	return awslambda.NewFunction(stack, jsii.String("SyncFunction"), &awslambda.FunctionProps{
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
		Environment: &map[string]*string{
			"LWA_SECRET_ID":       lwaSecret.SecretArn(),
			"SKILL_SECRET_PREFIX": jsii.String(cfg.SkillSecretPrefix),
			"SYNC_CONCURRENCY":    jsii.String(strconv.Itoa(cfg.SyncConcurrency)),
		},
	})
}

// newAlarms creates the alarm topic and the three alarms.
func newAlarms(stack awscdk.Stack, cfg *Config, key awskms.Key, fn awslambda.Function, dlq awssqs.Queue) awssns.Topic {
	topic := awssns.NewTopic(stack, jsii.String("AlarmTopic"), &awssns.TopicProps{
		DisplayName: jsii.String("Alexa skill credentials alarms"),
		MasterKey:   key,
		EnforceSSL:  jsii.Bool(true),
	})
	if cfg.AlarmEmail != "" {
		topic.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(cfg.AlarmEmail), nil))
	}
	action := awscloudwatchactions.NewSnsAction(topic)
	fiveMinutes := awscdk.Duration_Minutes(jsii.Number(5))

	period, periods := cfg.Schedule.AlarmWindow()
	alarms := []*awscloudwatch.AlarmProps{
		{
			AlarmDescription: jsii.String("The skill credential sync failed: at least one skill was not synced, or the run stopped (see the function's log group)."),
			Metric: fn.MetricErrors(&awscloudwatch.MetricOptions{
				Period:    fiveMinutes,
				Statistic: jsii.String("Sum"),
			}),
			Threshold:          jsii.Number(1),
			EvaluationPeriods:  jsii.Number(1),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		},
		{
			AlarmDescription: jsii.String("A scheduled event could not be delivered to the sync function and is in the dead-letter queue."),
			Metric: dlq.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{
				Period:    fiveMinutes,
				Statistic: jsii.String("Maximum"),
			}),
			Threshold:          jsii.Number(1),
			EvaluationPeriods:  jsii.Number(1),
			ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
			TreatMissingData:   awscloudwatch.TreatMissingData_NOT_BREACHING,
		},
		{
			AlarmDescription: jsii.String(fmt.Sprintf("No fully successful skill credential sync in the last %s (twice the longest gap of schedule %s).", fmtDuration(period*time.Duration(periods)), cfg.Schedule.Expression)),
			Metric: awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
				Namespace:     jsii.String(MetricNamespace),
				MetricName:    jsii.String(MetricSyncSucceeded),
				DimensionsMap: &map[string]*string{"FunctionName": fn.FunctionName()},
				Statistic:     jsii.String("Sum"),
				Period:        awscdk.Duration_Seconds(jsii.Number(period.Seconds())),
			}),
			Threshold:          jsii.Number(1),
			EvaluationPeriods:  jsii.Number(float64(periods)),
			DatapointsToAlarm:  jsii.Number(float64(periods)),
			ComparisonOperator: awscloudwatch.ComparisonOperator_LESS_THAN_THRESHOLD,
			TreatMissingData:   awscloudwatch.TreatMissingData_BREACHING,
		},
	}
	for i, id := range []string{"SyncErrorsAlarm", "DeadLetterQueueAlarm", "NoSuccessfulSyncAlarm"} {
		alarm := awscloudwatch.NewAlarm(stack, jsii.String(id), alarms[i])
		alarm.AddAlarmAction(action)
		alarm.AddOkAction(action)
	}
	return topic
}

func newOutputs(stack awscdk.Stack, cfg *Config, key awskms.Key, lwaSecret awssecretsmanager.Secret, skillSecrets []awssecretsmanager.Secret, skillSecretPattern *string, fn awslambda.Function, topic awssns.Topic, readerPolicy awsiam.ManagedPolicy) {
	out := func(scope constructs.Construct, id, description string, value *string) {
		awscdk.NewCfnOutput(scope, jsii.String(id), &awscdk.CfnOutputProps{
			Description: jsii.String(description),
			Value:       value,
		})
	}
	fillCommand := "aws secretsmanager put-secret-value --region " + *awscdk.Aws_REGION() + " --secret-id " + *lwaSecret.SecretArn() + " --secret-string file://lwa-secret.json"
	out(stack, "NextSteps", "What to do after the first deploy",
		jsii.String("If the LWA secret still holds its placeholder (first deploy: the deploy-time sync skipped every skill), "+
			"write lwa-secret.json as the README section Deploy shows (step 4), store it with: "+fillCommand+
			" ; delete the file, then run: make sync (invokes "+*fn.FunctionName()+" and prints the summary; it fails if a skill failed)."))
	out(stack, "LwaSecretArn", "ARN of the LWA secret (client id, client secret, refresh token)", lwaSecret.SecretArn())
	out(stack, "FillLwaSecretCommand", "Stores lwa-secret.json (see README, Deploy) as the LWA secret's value", jsii.String(fillCommand))
	out(stack, "SkillSecretPrefix", "Name prefix of the skill secrets; the function syncs every secret under it", jsii.String(cfg.SkillSecretPrefix))
	out(stack, "SkillSecretArnPattern", "IAM resource pattern matching every skill secret, for skill Lambdas' policies", skillSecretPattern)
	if len(cfg.SkillIDs) <= maxSkillOutputs {
		for i, skillID := range cfg.SkillIDs {
			out(skillSecrets[i], "Arn", "ARN of the skill secret of "+skillID, skillSecrets[i].SecretArn())
		}
	}
	out(stack, "SyncFunctionName", "Name of the sync function (invoke it to sync now)", fn.FunctionName())
	out(stack, "SyncFunctionLogGroup", "Log group of the sync function (JSON lines)", fn.LogGroup().LogGroupName())
	out(stack, "AlarmTopicArn", "SNS topic of the alarms; subscribe to it for notifications", topic.TopicArn())
	out(stack, "KeyArn", "KMS key of the secrets; secrets created outside the stack under the prefix must use it", key.KeyArn())
	if readerPolicy != nil {
		out(stack, "SkillSecretReaderPolicyArn", "Managed policy attached to the readerRoleArns: GetSecretValue on the skill secrets, Decrypt through Secrets Manager", readerPolicy.ManagedPolicyArn())
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
