package main

import (
	"fmt"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/contract"
)

// NoAlarmEmailWarning is the synth warning of a stack without alarmEmail.
const NoAlarmEmailWarning = "alarmEmail is not set: the alarms notify the topic (AlarmTopicArn output), which nobody is subscribed to; set it in cdk.json or subscribe to the topic yourself"

// notifier is what Alarm and CompositeAlarm share for their actions.
type notifier interface {
	AddAlarmAction(actions ...awscloudwatch.IAlarmAction)
	AddOkAction(actions ...awscloudwatch.IAlarmAction)
}

// alarms are the stack's notifying alarms, for the dashboard.
type alarms struct {
	topic  awssns.Topic
	run    awscloudwatch.CompositeAlarm
	skills awscloudwatch.Alarm
	dlq    awscloudwatch.Alarm
}

// newAlarms creates the alarm topic and the alarms. Each notifying alarm
// sends one message when it goes into ALARM and one when it recovers, never
// a pair per run: the alarms on the function's metrics keep their state
// while no run reports (TreatMissingData ignore), and a run that changes
// nothing changes no state.
//
//   - SyncRunAlarm (composite): the runs over every skill do not complete.
//     SyncRunFailedAlarm: the last full run could not complete
//     (FullRunFailed); NoFullSyncRunAlarm: no full run reported at all in
//     twice the longest gap of the schedule.
//   - SkillsFailingAlarm: skills failed in every full run of that window
//     (FullRunSkillsFailed, Minimum): a failing skill, not one blip.
//   - DeadLetterQueueAlarm: EventBridge could not deliver a scheduled event.
//
// A {"skillIds"} run emits neither FullRun… metric, so it cannot clear
// these alarms; the skill alarm and the run alarm are separate, so one in
// ALARM never hides the other's next notification.
func newAlarms(stack awscdk.Stack, cfg *Config, fn awslambda.Function, dlq awssqs.Queue) alarms {
	topic := awssns.NewTopic(stack, jsii.String("AlarmTopic"), &awssns.TopicProps{
		DisplayName: jsii.String("Alexa skill credentials alarms"),
		MasterKey:   newTopicKey(stack),
		EnforceSSL:  jsii.Bool(true),
	})
	if cfg.AlarmEmail != "" {
		topic.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(cfg.AlarmEmail), nil))
	} else {
		awscdk.Annotations_Of(stack).AddWarningV2(jsii.String("alexa-skill-credentials:noAlarmEmail"), jsii.String(NoAlarmEmailWarning))
	}
	action := awscloudwatchactions.NewSnsAction(topic)
	notify := func(a notifier) {
		a.AddAlarmAction(action)
		a.AddOkAction(action)
	}
	metric := func(name, statistic string, period time.Duration) awscloudwatch.Metric {
		return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace:     jsii.String(contract.MetricNamespace),
			MetricName:    jsii.String(name),
			DimensionsMap: &map[string]*string{"FunctionName": fn.FunctionName()},
			Statistic:     jsii.String(statistic),
			Period:        awscdk.Duration_Seconds(jsii.Number(period.Seconds())),
		})
	}
	period, periods := cfg.Schedule.AlarmWindow()
	window := fmtDuration(period * time.Duration(periods))

	runFailed := awscloudwatch.NewAlarm(stack, jsii.String("SyncRunFailedAlarm"), &awscloudwatch.AlarmProps{
		AlarmDescription:   jsii.String("Part of SyncRunAlarm: the last run over every skill could not complete (FullRunFailed)."),
		Metric:             metric(contract.MetricFullRunFailed, "Maximum", 5*time.Minute),
		Threshold:          jsii.Number(1),
		EvaluationPeriods:  jsii.Number(1),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
		TreatMissingData:   awscloudwatch.TreatMissingData_IGNORE,
	})
	noRun := awscloudwatch.NewAlarm(stack, jsii.String("NoFullSyncRunAlarm"), &awscloudwatch.AlarmProps{
		AlarmDescription:   jsii.String(fmt.Sprintf("Part of SyncRunAlarm: no run over every skill reported in the last %s (twice the longest gap of schedule %s).", window, cfg.Schedule.Expression)),
		Metric:             metric(contract.MetricFullRunFailed, "SampleCount", period),
		Threshold:          jsii.Number(1),
		EvaluationPeriods:  jsii.Number(float64(periods)),
		DatapointsToAlarm:  jsii.Number(float64(periods)),
		ComparisonOperator: awscloudwatch.ComparisonOperator_LESS_THAN_THRESHOLD,
		TreatMissingData:   awscloudwatch.TreatMissingData_BREACHING,
	})
	run := awscloudwatch.NewCompositeAlarm(stack, jsii.String("SyncRunAlarm"), &awscloudwatch.CompositeAlarmProps{
		AlarmDescription: jsii.String(fmt.Sprintf("The skill credential sync cannot run: the last run over every skill could not complete (LWA refused the credentials, LWA secret not filled in, configuration error, secrets not listed, out of time), or no run reported in %s. See docs/operations.md#reading-the-alarms and the function's log group.", window)),
		AlarmRule:        awscloudwatch.AlarmRule_AnyOf(runFailed, noRun),
	})
	notify(run)

	skills := awscloudwatch.NewAlarm(stack, jsii.String("SkillsFailingAlarm"), &awscloudwatch.AlarmProps{
		AlarmDescription:   jsii.String(fmt.Sprintf("Skills failed in every run over every skill of the last %s (FullRunSkillsFailed; the value is the fewest failed skills of one run). The summary lines in the function's log group name each skill, its error and SMAPI request id. See docs/operations.md#reading-the-alarms.", window)),
		Metric:             metric(contract.MetricFullRunSkillsFailed, "Minimum", period),
		Threshold:          jsii.Number(1),
		EvaluationPeriods:  jsii.Number(float64(periods)),
		DatapointsToAlarm:  jsii.Number(float64(periods)),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
		TreatMissingData:   awscloudwatch.TreatMissingData_IGNORE,
	})
	notify(skills)

	// SQS stops publishing the metrics of a queue nobody calls for six
	// hours: with missing data ignored, a message left in the queue keeps
	// the alarm in ALARM until the queue is purged.
	dlqAlarm := awscloudwatch.NewAlarm(stack, jsii.String("DeadLetterQueueAlarm"), &awscloudwatch.AlarmProps{
		AlarmDescription: jsii.String("A scheduled event could not be delivered to the sync function and is in the dead-letter queue (output DeadLetterQueueUrl). See docs/operations.md#reading-the-alarms."),
		Metric: dlq.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{
			Period:    awscdk.Duration_Minutes(jsii.Number(5)),
			Statistic: jsii.String("Maximum"),
		}),
		Threshold:          jsii.Number(1),
		EvaluationPeriods:  jsii.Number(1),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
		TreatMissingData:   awscloudwatch.TreatMissingData_IGNORE,
	})
	notify(dlqAlarm)
	return alarms{topic: topic, run: run, skills: skills, dlq: dlqAlarm}
}
