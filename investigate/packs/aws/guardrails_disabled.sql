-- id: aws-security-guardrail-disabled
-- title: Security logging or guardrail disabled (flow logs, DNS logs, Config, GuardDuty, Security Hub, Bedrock guardrails, organization)
-- severity: high
-- mitre: T1562.001, T1562.008, T1666
-- tags: cloudtrail, defense-evasion
-- dedup: account, eventname
-- covers: aws.defense-evasion.vpc-remove-flow-logs, aws.defense-evasion.dns-delete-logs,
--   aws.defense-evasion.organizations-leave
-- source: _investigate.actors
SELECT eventid, eventtime, eventname, eventsource, recipientaccountid AS account,
       awsregion AS region, arn AS principal, sourceipaddress AS sourceip, errorcode
FROM _investigate.actors
WHERE eventname IN (
    'DeleteFlowLogs', 'DeleteResolverQueryLogConfig', 'DisassociateResolverQueryLogConfig',
    'StopConfigurationRecorder', 'DeleteConfigurationRecorder', 'DeleteDeliveryChannel',
    'DeleteDetector', 'DeleteMembers', 'DisassociateFromMasterAccount', 'StopMonitoringMembers',
    'UpdateDetector', 'DisableSecurityHub', 'BatchDisableStandards', 'DeleteGuardrail',
    'UpdateGuardrail', 'LeaveOrganization', 'DeleteLogGroup', 'PutBucketLogging')
  AND (eventname <> 'UpdateDetector'
       OR json_extract_scalar(requestparameters, '$.enable') = 'false')
  AND (eventname <> 'PutBucketLogging'
       OR json_extract(requestparameters, '$.BucketLoggingStatus.LoggingEnabled') IS NULL)
