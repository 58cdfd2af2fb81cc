"""Table definitions from Athena's guides ("Querying AWS CloudTrail logs", "Querying Amazon VPC
flow logs"), with only the bucket, account, region and start date filled in: they must read raw
exports as AWS delivers them."""

from __future__ import annotations

CLOUDTRAIL_COLUMNS = """
eventversion STRING,
useridentity STRUCT<
    type: STRING, principalid: STRING, arn: STRING, accountid: STRING, invokedby: STRING,
    accesskeyid: STRING, username: STRING,
    onbehalfof: STRUCT<userid: STRING, identitystorearn: STRING>,
    sessioncontext: STRUCT<
        attributes: STRUCT<mfaauthenticated: STRING, creationdate: STRING>,
        sessionissuer: STRUCT<type: STRING, principalid: STRING, arn: STRING,
                              accountid: STRING, username: STRING>,
        ec2roledelivery: string,
        webidfederationdata: STRUCT<federatedprovider: STRING, attributes: map<string,string>>
    >
>,
eventtime STRING,
eventsource STRING,
eventname STRING,
awsregion STRING,
sourceipaddress STRING,
useragent STRING,
errorcode STRING,
errormessage STRING,
requestparameters STRING,
responseelements STRING,
additionaleventdata STRING,
requestid STRING,
eventid STRING,
readonly STRING,
resources ARRAY<STRUCT<arn: STRING, accountid: STRING, type: STRING>>,
eventtype STRING,
apiversion STRING,
recipientaccountid STRING,
serviceeventdetails STRING,
sharedeventid STRING,
vpcendpointid STRING,
vpcendpointaccountid STRING,
eventcategory STRING,
addendum STRUCT<reason:STRING, updatedfields:STRING, originalrequestid:STRING,
                originaleventid:STRING>,
sessioncredentialfromconsole STRING,
edgedevicedetails STRING,
tlsdetails STRUCT<tlsversion:STRING, ciphersuite:STRING, clientprovidedhostheader:STRING>
"""

#: the guide's older definition, with the CloudTrail SerDe
CLOUDTRAIL_SERDE = """
CREATE EXTERNAL TABLE cloudtrail_logs (<columns>)
COMMENT 'CloudTrail table for amzn-s3-demo-bucket bucket'
ROW FORMAT SERDE 'com.amazon.emr.hive.serde.CloudTrailSerde'
STORED AS INPUTFORMAT 'com.amazon.emr.cloudtrail.CloudTrailInputFormat'
OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'
LOCATION '<trail>'
TBLPROPERTIES ('classification'='cloudtrail')
""".replace("<columns>", CLOUDTRAIL_COLUMNS)

#: the guide's current definition: Hive's JSON SerDe with CloudTrail's input format
CLOUDTRAIL_JSON = CLOUDTRAIL_SERDE.replace(
    "com.amazon.emr.hive.serde.CloudTrailSerde", "org.apache.hive.hcatalog.data.JsonSerDe"
).replace("cloudtrail_logs (", "cloudtrail_logs_json (")

#: "Create the table for CloudTrail logs in Athena using partition projection"
CLOUDTRAIL_PROJECTED = """
CREATE EXTERNAL TABLE cloudtrail_logs_pp(<columns>)
PARTITIONED BY (`timestamp` string)
ROW FORMAT SERDE 'org.apache.hive.hcatalog.data.JsonSerDe'
STORED AS INPUTFORMAT 'com.amazon.emr.cloudtrail.CloudTrailInputFormat'
OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'
LOCATION '<trail>/<region>'
TBLPROPERTIES (
  'projection.enabled'='true',
  'projection.timestamp.format'='yyyy/MM/dd',
  'projection.timestamp.interval'='1',
  'projection.timestamp.interval.unit'='DAYS',
  'projection.timestamp.range'='2020/01/01,NOW',
  'projection.timestamp.type'='date',
  'storage.location.template'='<trail>/<region>/${timestamp}')
""".replace("<columns>", CLOUDTRAIL_COLUMNS)

FLOW_COLUMNS = """
  version int, account_id string, interface_id string, srcaddr string, dstaddr string,
  srcport int, dstport int, protocol bigint, packets bigint, bytes bigint, start bigint,
  `end` bigint, action string, log_status string, vpc_id string, subnet_id string,
  instance_id string, tcp_flags int, type string, pkt_srcaddr string, pkt_dstaddr string,
  region string, az_id string, sublocation_type string, sublocation_id string,
  pkt_src_aws_service string, pkt_dst_aws_service string, flow_direction string,
  traffic_path int
"""

#: "Create a table for Amazon VPC flow logs and query it", then its ADD PARTITION statement
VPC_FLOW = """
CREATE EXTERNAL TABLE IF NOT EXISTS `vpc_flow_logs_guide` (<columns>)
PARTITIONED BY (`date` date)
ROW FORMAT DELIMITED
FIELDS TERMINATED BY ' '
LOCATION '<logs>/AWSLogs/<account>/vpcflowlogs/<region>/'
TBLPROPERTIES ("skip.header.line.count"="1")
""".replace("<columns>", FLOW_COLUMNS)
VPC_FLOW_PARTITION = """
ALTER TABLE vpc_flow_logs_guide
ADD PARTITION (`date`='<day>')
LOCATION '<logs>/AWSLogs/<account>/vpcflowlogs/<region>/<slashed>'
"""

#: the guide's partition-projection table for flow logs (region is a partition there)
VPC_FLOW_PROJECTED = """
CREATE EXTERNAL TABLE IF NOT EXISTS test_table_vpclogs (<columns>)
PARTITIONED BY (accid string, region string, day string)
ROW FORMAT DELIMITED
FIELDS TERMINATED BY ' '
LOCATION '<logs>/AWSLogs/'
TBLPROPERTIES
(
"skip.header.line.count"="1",
"projection.enabled" = "true",
"projection.accid.type" = "enum",
"projection.accid.values" = "<account>,111122223333",
"projection.region.type" = "enum",
"projection.region.values" = "<region>,eu-west-1",
"projection.day.type" = "date",
"projection.day.range" = "2021/01/01,NOW",
"projection.day.format" = "yyyy/MM/dd",
"storage.location.template" = "<logs>/AWSLogs/${accid}/vpcflowlogs/${region}/${day}"
)
""".replace("<columns>", FLOW_COLUMNS.replace("region string, ", ""))


def fill(ddl: str, **names: str) -> str:
    """A definition with the guide's placeholders (``<trail>``, ``<account>`` ...) filled in."""
    for name, value in names.items():
        ddl = ddl.replace(f"<{name}>", value)
    return ddl
