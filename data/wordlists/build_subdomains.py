#!/usr/bin/env python3
"""Builds data/wordlists/subdomains.txt from the hand-written lists below.

    python3 data/wordlists/build_subdomains.py          # rewrite the list
    python3 data/wordlists/build_subdomains.py --check  # verify it is current

The output holds one lowercase DNS label per line, roughly the most useful
first: the sections are emitted in order and a label keeps the position of its
first appearance. Edit the lists here, never the output file.
"""

import argparse
import os
import re
import sys

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "subdomains.txt")
LABEL_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
MIN_LABELS = 5000

# Names the lab (lab/zones) hides on purpose so that only AXFR, certificate
# transparency or nothing at all can reveal them. They must never be here.
EXCLUDED = {
    "zq-hidden-backoffice",
    "zq-hidden-payroll",
    "ct-only-portal",
    "old-campaign",
    "shop-gone",
    "blog-live",
}
# Names the lab expects brute force to find.
REQUIRED = {"www", "mail", "vpn", "shop", "blog"}


def w(text):
    """Splits a whitespace-separated block into a list, keeping order."""
    return text.split()


def numbered(bases, first, last, width=0, sep=""):
    out = []
    for n in range(first, last + 1):
        for b in bases:
            out.append("%s%s%0*d" % (b, sep, width, n))
    return out


def ranked_pairs(left, right, fmt):
    """All left x right combinations, the pairs of best-ranked parts first."""
    pairs = [(i + j, i, j) for i in range(len(left)) for j in range(len(right))]
    pairs.sort()
    return [fmt.format(left[i], right[j]) for _, i, j in pairs if left[i] != right[j]]


CORE = w("""
www mail ftp webmail smtp pop imap ns1 ns2 vpn remote portal owa autodiscover
api dev test staging stg admin blog shop m mx secure ns dns webdisk cpanel whm
autoconfig cpcalendars cpcontacts server app mobile store cdn static support
login beta demo new old intranet web email mx1 mx2 pop3 host gw gateway
img images media news forum docs help status sso auth www2 cloud files
dashboard panel console plesk exchange lyncdiscover sip mail2 smtp2 ns3 ns4
git gitlab jenkins jira confluence wiki crm erp hr ec store2 assets download
downloads upload uploads video vps direct origin proxy firewall fw router
backup db mysql sql ldap ad dc search my account accounts id members member
cms wp wordpress en jp info office calendar meet chat careers jobs recruit
pay payment billing order cart checkout partner partners client clients
customer sandbox preview sftp ssh bastion rdp rdweb citrix sslvpn
remote2 access extranet intra share nas print monitor monitoring grafana
kibana stats analytics tracking track lp campaign promo marketing
newsletter lists list event events survey form forms contact inquiry
""")

# --- 2. mail and messaging ---------------------------------------------------
MAIL = w("""
smtp-out smtp-in mail-out mail-in mailout mailin relay mailrelay smtp-relay
mail-relay mailgw mail-gw smtpgw smtp-gw mx3 mx4 mx-backup backupmx mxbackup
mailhost mailserver mailsrv mail-server mta mta1 mta2 edge smarthost
spam antispam spamfilter mailfilter filter mailscanner mailguard mailsec
imap4 imaps pops pop3s smtps submission webmail2 webmail1 wm owa2 ews
exchange2 exch mapi activesync eas outlook o365 office365 m365 mail365
lync skype sfb teams zoom webex conference voip pbx asterisk phone tel fax
cti callcenter sms push notify notification notifications alerts alert
newsletter2 mailing mailman listserv sympa lists2 bounce bounces em email2
click links trk url go r redirect unsubscribe optout mailer mailers
sendgrid mailgun ses mailchimp mc postfix dovecot zimbra roundcube squirrelmail
horde rainloop sogo kerio mdaemon mailstore archive mailarchive journal
dkim spf dmarc mta-sts bimi
""")

# --- 3. infrastructure, network and security --------------------------------
INFRA = w("""
ntp time dhcp ipam netbox radius nps tacacs ise nac wifi wlan wireless guest
captive hotspot ap controller wlc unifi meraki aruba ruckus switch sw core
cisco juniper paloalto pa checkpoint sophos watchguard sonicwall barracuda
fortigate forti fortinet fortimail fortiweb pulse pulsesecure ivanti
anyconnect asa globalprotect gp openvpn wireguard ipsec l2tp vpn-gw vpngw
remoteaccess ra ras tunnel jump jumphost jumpbox ssh-gw sshgw rdgw rdg rds
ts terminal terminalserver xenapp xendesktop storefront netscaler adc vdi
horizon view workspace f5 bigip lb loadbalancer haproxy nginx apache iis
waf cache squid varnish reverseproxy rp ids ips siem soc edr xdr av
antivirus wsus sccm mecm mdm intune jamf airwatch mobileiron kms pki ca crl
ocsp cert certs acme adfs sts federation idp saml oauth oidc okta keycloak
cas iam mfa 2fa otp password passwords pwreset reset selfservice ssp
directory dc1 dc2 ad1 ad2 addc pdc bdc ldaps gc kerberos dns1 dns2 dns3
ns5 ns6 resolver recursive cache-dns nameserver backup2 bk bkp veeam
storage san nfs smb cifs fileserver fs filesrv share2 dropbox box nextcloud
owncloud seafile webdav dav ftp2 ftps tftp pxe ipmi ilo idrac bmc kvm ups
pdu env sensor iot scada hmi plc building bms cctv cam camera nvr dvr ipcam
printer mfp scanner copier fax2 pbx2 voice gatekeeper sbc
""")

# --- 4. web, applications and business services ------------------------------
APPS = w("""
home main top site sites website www3 portal2 landing about company corp
corporate ir investor investors press pr csr sustainability global
international group hd holdings brand brands product products service
services solution solutions catalog catalogue lookbook magazine
column journal note notes library lib resources resource learning elearning
lms training edu academy school university univ campus student students
alumni faculty staff employee employees hrportal talent hire hiring
apply entry entries mypage mypage2 user users profile profiles signup
register registration signin logout session sso2 auth2 login2 oauth2
reserve reservation reservations booking book yoyaku appointment
ticket tickets helpdesk servicedesk itsm otrs redmine trac mantis bugzilla
bugs issues tasks kanban board boards project projects pm workflow wf
approval kintai attendance timecard payroll expense expenses invoice
invoices quote estimate contract contracts legal compliance audit risk
privacy security trust policy terms faq faqs guide manual manuals support2
knowledge kb qa answers community feedback review reviews rating ugc
gallery photo photos pics pic picture pictures image thumbs thumbnail
thumbnails video2 videos movie movies tv live stream streaming radio
podcast music audio game games play mall market marketplace ec2 ec-site
ecsite netshop onlineshop online-shop online webshop estore eshop shop2
store3 cart2 order2 orders purchase buy sale sales outlet coupon coupons
point points gift giftcard loyalty rewards affiliate affiliates ad ads
adserver banner banners cp cms2 blog2 blogs diary topics topic recruit2
saiyo career career2 internship newgrad shinsotsu chuto
""")

# --- 5. development, operations and cloud ------------------------------------
DEVOPS = w("""
ci cd build builds builder deploy release releases artifact artifacts
registry docker harbor nexus artifactory npm pypi maven gems repo repos
mirror mirrors pkg packages apt yum svn code review gerrit sonar sonarqube
github bitbucket gitea gogs drone circleci travis teamcity bamboo gocd
argo argocd flux spinnaker tekton rancher k8s kube kubernetes k3s eks aks
gke openshift okd ocp nomad consul vault etcd zookeeper zk terraform
ansible awx tower puppet chef salt foreman satellite cobbler vcenter
vsphere esxi esx proxmox pve ovirt xen hyperv openstack ceph minio s3 swift
blob bucket objects cloudfront akamai fastly cloudflare aws azure gcp
gcloud lambda functions function serverless worker workers queue
queues mq rabbitmq rabbit kafka nats pulsar activemq mqtt broker
redis memcached memcache elasticsearch elastic es opensearch solr mongo
mongodb postgres postgresql pg psql mariadb oracle ora mssql sqlserver
db-master db-slave master slave primary replica read write rw ro
prometheus alertmanager thanos loki tempo jaeger zipkin otel collector
fluentd logstash filebeat graylog splunk sumologic datadog newrelic
apm sentry rollbar bugsnag pagerduty opsgenie uptime pingdom statuspage
nagios icinga zabbix cacti mrtg smokeping observium librenms prtg netdata
munin checkmk sensu airflow superset metabase redash tableau powerbi
looker jupyter jupyterhub notebook rstudio mlflow kubeflow spark hadoop
hdfs hive presto trino flink nifi dataflow etl bi dwh warehouse datalake
data bigdata ml ai gpu compute hpc batch cron scheduler task runner
graphql rest soap rpc grpc ws wss websocket socket realtime webhook
webhooks hooks callback callbacks api2 api3 apis api-docs apidocs swagger
openapi developer developers devportal sdk sandbox2 playground lab labs
tools tool util utils internal int private public ext external node
nodes cluster swarm mesh ingress egress nat bastion2 vpc dmz lan wan
""")

# --- 6. SaaS and hosted services often mapped onto a company domain ---------
SAAS = w("""
salesforce sf force hubspot marketo pardot zendesk freshdesk intercom
helpscout kayako desk shopify wix squarespace webflow ghost medium
notion atlassian slack mattermost rocketchat discord line lineworks
chatwork kintone cybozu garoon desknets dneo sansan smarthr freee
moneyforward jobcan kingoftime backlog boxil gsuite
google gmail gdrive drive sheets
microsoft sharepoint onedrive yammer dynamics sap netsuite
oracle-cloud workday servicenow snow trello asana
monday clickup figma miro canva docusign cloudsign adobe sign esign
stripe paypal square payjp gmo sbps veritrans epsilon paygent
gotomeeting bluejeans whereby calendly eventbrite peatix
surveymonkey typeform questionnaire enquete qualtrics formrun
twilio vonage mailjet brevo sendinblue klaviyo braze
cdn2 cdn1 images2 static2 assets2 files2 content contents
""")

# --- 7. Japanese business vocabulary (romaji) -------------------------------
JP_BUSINESS = w("""
honsha honbu shiten shisha eigyo eigyosho soumu somu keiri jinji saiyo
kintai kyuyo jimu kikaku gijutsu kaihatsu seizo kojo koujou butsuryu soko
hanbai konyu kounyu shizai hinshitsu kenkyu kensyu kenshu kyoiku joho
jouhou johosys system shisutemu toiawase otoiawase shiryo shiryou oshirase
shinsei keiyaku seikyu mitsumori hacchu juchu zaiko nohin uketsuke madoguchi
kaiin kaisha kaisya kabushiki yugen kk co nihon nippon japan kanri
kanribu soumubu keiribu jinjibu eigyobu gijutsubu kaihatsubu jimukyoku
shacho shain syain sharyo kaigi kaigishitsu tenpo
shoten shop-jp tsuhan tsuuhan onlinestore kaitori rental lease
fudosan bukken jutaku kenchiku sekkei koji kouji genba hoken byoin clinic
iin shika kango kaigo hoiku youchien gakuen juku yobiko daigaku gakko
kyokai kumiai dantai zaidan hojin npo shakyo shiyakusho yakuba city town
village pref ken shi cho machi mura kankou kanko onsen ryokan hotel inn
yado resort
""")

JP_REGIONS = w("""
tokyo osaka nagoya fukuoka sapporo sendai yokohama kobe kyoto hiroshima
kawasaki saitama chiba kitakyushu hamamatsu niigata shizuoka okayama
kumamoto sagamihara sakai kanazawa takamatsu matsuyama kagoshima naha
hakata tenjin umeda namba shinsaibashi shinjuku shibuya ikebukuro ginza
shinagawa minato chiyoda chuo ueno akihabara omiya hachioji tachikawa
machida kawaguchi funabashi kashiwa toyota okazaki ichinomiya yokkaichi
himeji fukuyama kurashiki shimonoseki hakodate asahikawa morioka koriyama
utsunomiya maebashi takasaki mito kofu matsumoto tsu otsu nara wakayama
oita miyazaki nagasaki sasebo yokosuka fujisawa atsugi
kanto kansai tokai tohoku hokkaido kyushu shikoku chugoku hokuriku chubu
kinki okinawa koshinetsu sanin sanyo
aomori iwate miyagi akita yamagata fukushima ibaraki tochigi gunma
kanagawa toyama ishikawa fukui yamanashi nagano gifu aichi mie shiga
hyogo tottori shimane yamaguchi tokushima kagawa ehime kochi saga
""")

# --- 8. world regions, countries and languages -------------------------------
WORLD = w("""
jp us uk de fr cn kr tw hk sg au in th vn id my ph ca br mx es it nl se ch
ru pl tr ae sa za nz ar cl eu na latam apac emea amer americas asia
europe africa oceania east west north south central
ja zh ko zh-cn zh-tw en-us en-gb
us-east us-west eu-west eu-central eu-north ap-northeast ap-southeast
ap-south ap-east sa-east ca-central me-south af-south
london paris berlin frankfurt munich amsterdam madrid milan rome zurich
stockholm dublin brussels vienna warsaw prague moscow istanbul dubai
newyork ny nyc la sf chicago dallas houston seattle boston atlanta miami
denver toronto vancouver montreal saopaulo mexico
singapore hongkong shanghai beijing shenzhen guangzhou seoul busan taipei
bangkok jakarta manila hanoi hochiminh kualalumpur kl sydney melbourne
brisbane perth auckland mumbai delhi bangalore chennai hyderabad
""")

# --- 9. numbered variants ------------------------------------------------------
NUMBERED_TOP = (
    numbered(["www", "mail", "ns", "smtp", "mx", "vpn", "web", "pop", "imap"], 1, 5)
    + numbered(["ww"], 1, 3)
)
NUMBERED = (
    numbered(["www", "mail", "ns"], 1, 20)
    + numbered(["web", "smtp", "mx", "app", "srv", "sv", "server", "host"], 1, 20)
    + numbered(["vpn", "db", "dns", "test", "dev", "node", "api", "proxy", "lb"], 1, 10)
    + numbered(["gw", "fw", "dc", "ad", "stg", "demo", "cache", "file", "ftp", "cdn",
                "static", "img", "worker", "backup", "nas", "ap", "sw", "esx", "owa"], 1, 5)
    + numbered(["pop", "imap", "exchange", "staging", "m", "shop", "store", "portal",
                "remote", "sslvpn", "webmail", "relay", "mta", "edge"], 1, 3)
    + numbered(["www", "web", "sv", "srv", "app", "mail", "db", "ns", "host", "server"],
               1, 10, width=2)
    + numbered(["web", "app", "api", "db", "srv", "node"], 1, 5, width=2, sep="-")
)

# --- 10. combinations ------------------------------------------------------------
ENVS = w("""
dev stg staging test qa uat prod demo beta stage prd preprod sandbox
develop pre int old new v2 alpha preview local perf internal tmp
""")
SERVICES = w("""
api www app admin web portal auth mail cms shop store ec blog db
static cdn img assets media files upload sso login m sp mobile gw
gateway proxy lb vpn jenkins gitlab git ci k8s grafana kibana monitor
status docs wiki crm erp pay payment billing order cart member mypage
user account console dashboard manage mgmt search backend frontend front
batch worker queue cron report analytics log logs cache storage s3 sftp
ftp graphql ws socket partner client
""")
SUFFIXES = w("""
gw lb proxy vpn 01 02 old new bk backup dr internal ext jp en test dev stg
""")
MAIL_PARTS = w("mail smtp mx pop imap webmail relay")
MAIL_SUFFIXES = w("gw out in relay backup filter spam 01 02 jp")
JP_OFFICES = w("""
tokyo osaka nagoya fukuoka sapporo sendai yokohama kobe kyoto hiroshima
saitama chiba niigata shizuoka okayama kumamoto kanazawa takamatsu
matsuyama kagoshima naha
""")
JP_OFFICE_SUFFIXES = w("shiten office eigyosho branch vpn gw honsha shisha")
REGION_PREFIXES = w("jp en us eu asia cn kr tw global")
REGION_SERVICES = w("www shop api app mail cdn store m portal support")


def sections():
    yield "core", CORE
    yield "numbered-top", NUMBERED_TOP
    yield "mail", MAIL
    yield "infra", INFRA
    yield "apps", APPS
    yield "jp-business", JP_BUSINESS
    yield "devops", DEVOPS
    yield "saas", SAAS
    yield "numbered", NUMBERED
    yield "env-service", ranked_pairs(ENVS[:8], SERVICES[:30], "{0}-{1}")
    yield "service-env", ranked_pairs(SERVICES[:30], ENVS[:8], "{0}-{1}")
    yield "env+service", ranked_pairs(ENVS[:6], SERVICES[:25], "{0}{1}")
    yield "service+env", ranked_pairs(SERVICES[:25], ENVS[:6], "{0}{1}")
    yield "mail-suffix", ranked_pairs(MAIL_PARTS, MAIL_SUFFIXES, "{0}-{1}")
    yield "jp-regions", JP_REGIONS
    yield "jp-offices", ranked_pairs(JP_OFFICES, JP_OFFICE_SUFFIXES, "{0}-{1}")
    yield "jp-offices-concat", ranked_pairs(JP_OFFICES[:10], JP_OFFICE_SUFFIXES[:3], "{0}{1}")
    yield "world", WORLD
    yield "region-service", ranked_pairs(REGION_PREFIXES, REGION_SERVICES, "{0}-{1}")
    yield "service-region", ranked_pairs(REGION_SERVICES, REGION_PREFIXES, "{0}-{1}")
    yield "service-suffix", ranked_pairs(SERVICES, SUFFIXES, "{0}-{1}")
    yield "env-service-long", ranked_pairs(ENVS, SERVICES, "{0}-{1}")
    yield "service-env-long", ranked_pairs(SERVICES, ENVS, "{0}-{1}")
    yield "jp-regions-numbered", numbered(JP_OFFICES[:10], 1, 3)


def build():
    seen = set()
    out = []
    for _name, labels in sections():
        for label in labels:
            label = label.lower()
            if label in seen or label in EXCLUDED:
                continue
            if not LABEL_RE.match(label) or "--" in label:
                raise SystemExit("invalid label in source lists: %r" % label)
            seen.add(label)
            out.append(label)
    missing = REQUIRED - seen
    if missing:
        raise SystemExit("required labels missing: %s" % sorted(missing))
    if len(out) < MIN_LABELS:
        raise SystemExit("only %d labels; at least %d expected" % (len(out), MIN_LABELS))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="fail if the output file is stale")
    args = ap.parse_args()
    text = "".join(label + "\n" for label in build())
    if args.check:
        try:
            with open(OUT) as f:
                current = f.read()
        except FileNotFoundError:
            current = None
        if current != text:
            print("%s is out of date; run %s" % (OUT, sys.argv[0]), file=sys.stderr)
            return 1
        print("%s is up to date (%d labels)" % (OUT, text.count("\n")))
        return 0
    with open(OUT, "w") as f:
        f.write(text)
    print("wrote %d labels to %s" % (text.count("\n"), OUT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
