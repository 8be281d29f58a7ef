package main

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/aws-cdk-go/awscdk/v2/interfaces/interfacesawscloudwatch"
	"github.com/aws/jsii-runtime-go"

	"github.com/alexa-skill-credentials/alexa-skill-credentials/internal/contract"
)

// Logs Insights queries of the dashboard, over the function's log group
// (the fields are those of docs/operations.md, "Logs and metrics").
const (
	// lastFailuresQuery lists the latest failed skills and rotation steps
	// with their errors and SMAPI request ids.
	lastFailuresQuery = `fields @timestamp, skill_id, step, error, request_id
| filter (msg = "skill synced" and status = "failed") or (msg = "rotation step" and level = "ERROR")
| sort @timestamp desc
| limit 50`
	// lastRunsQuery lists the latest runs and their outcome.
	lastRunsQuery = `fields @timestamp, run, skills, updated, unchanged, failed, duration_ms, error
| filter msg = "sync finished"
| sort @timestamp desc
| limit 20`
)

// newDashboard creates the CloudWatch dashboard of the sync: the alarms,
// runs and their outcome, skills updated, unchanged and failed, duration,
// SMAPI throttling and retries, the depth of both queues, the last runs and the last
// failures. It shows the last two weeks by default, so that a 12-hour
// schedule's runs are visible.
func newDashboard(stack awscdk.Stack, fn awslambda.Function, dlq, failedRuns awssqs.Queue, a alarms) awscloudwatch.Dashboard {
	hour := awscdk.Duration_Hours(jsii.Number(1))
	own := func(name, label string) awscloudwatch.IMetric {
		return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{
			Namespace:     jsii.String(contract.MetricNamespace),
			MetricName:    jsii.String(name),
			DimensionsMap: &map[string]*string{"FunctionName": fn.FunctionName()},
			Statistic:     jsii.String("Sum"),
			Period:        hour,
			Label:         jsii.String(label),
		})
	}
	opts := func(statistic, label string) *awscloudwatch.MetricOptions {
		return &awscloudwatch.MetricOptions{Statistic: jsii.String(statistic), Period: hour, Label: jsii.String(label)}
	}
	graph := func(title string, stacked bool, metrics ...awscloudwatch.IMetric) awscloudwatch.IWidget {
		return awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
			Title: jsii.String(title), Left: &metrics, Stacked: jsii.Bool(stacked), Width: jsii.Number(8), Height: jsii.Number(6),
		})
	}
	logs := func(title, query string, width float64) awscloudwatch.IWidget {
		return awscloudwatch.NewLogQueryWidget(&awscloudwatch.LogQueryWidgetProps{
			Title:         jsii.String(title),
			LogGroupNames: &[]*string{fn.LogGroup().LogGroupName()},
			QueryString:   jsii.String(query),
			View:          awscloudwatch.LogQueryVisualizationType_TABLE,
			Width:         jsii.Number(width),
			Height:        jsii.Number(8),
		})
	}
	return awscloudwatch.NewDashboard(stack, jsii.String("Dashboard"), &awscloudwatch.DashboardProps{
		Start: jsii.String("-P14D"),
		Widgets: &[]*[]awscloudwatch.IWidget{
			{
				awscloudwatch.NewAlarmStatusWidget(&awscloudwatch.AlarmStatusWidgetProps{
					Title:  jsii.String("Alarms"),
					Alarms: &[]interfacesawscloudwatch.IAlarmRef{a.run, a.skills, a.dlq},
					Width:  jsii.Number(24),
					Height: jsii.Number(3),
				}),
			},
			{
				graph("Runs and their outcome", false,
					fn.MetricInvocations(opts("Sum", "invocations (runs and rotation steps)")),
					fn.MetricErrors(opts("Sum", "failed invocations")),
					own(contract.MetricSyncSucceeded, "sync runs that fully succeeded"),
					own(contract.MetricFullRunFailed, "full runs that could not complete"),
					own(contract.MetricSkillsNotStarted, "skills not started (time ran out)")),
				graph("Skills per hour", true,
					own(contract.MetricSkillsUpdated, "updated"),
					own(contract.MetricSkillsUnchanged, "unchanged"),
					own(contract.MetricSkillsFailed, "failed")),
				graph("Duration (ms)", false,
					fn.MetricDuration(opts("Maximum", "maximum")),
					fn.MetricDuration(opts("Average", "average"))),
			},
			{
				graph("SMAPI throttling and retries", false,
					own(contract.MetricSMAPIThrottled, "SMAPI answers 429 (throttled)"),
					own(contract.MetricSMAPIRetries, "SMAPI calls repeated (429, 5xx, timeouts)"),
					fn.MetricThrottles(opts("Sum", "Lambda throttles"))),
				graph("Queues (messages)", false,
					dlq.MetricApproximateNumberOfMessagesVisible(opts("Maximum", "schedule dead-letter queue")),
					failedRuns.MetricApproximateNumberOfMessagesVisible(opts("Maximum", "failed runs"))),
				logs("Last runs", lastRunsQuery, 8),
			},
			{
				logs("Last failed skills and rotation steps (error, SMAPI request id)", lastFailuresQuery, 24),
			},
		},
	})
}
