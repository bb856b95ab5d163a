"""Load the demo company: twelve departments, their people, a service catalog and months of tickets.

Every write goes through the services (org chart, catalog, filing, transitions, comments), so the
timelines are the real ones; only their timestamps are moved back afterwards to spread the history
over the last months. Safe to run again: what already exists is kept, nothing is duplicated.
"""

import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.db.models import Case, Count, DateTimeField, F, Max, OuterRef, Q, Subquery, Value, When
from django.utils import timezone

from departments.models import Department, Membership, User
from departments.services import save_department, save_user, set_membership
from feedback.demo import load_demo_feedback
from slas import config_cache
from slas.calendars import import_china_years
from slas.clocks import replay as replay_clocks
from slas.models import Agreement, SlaPolicy
from tickets import services as ticket_services
from tickets.form_schema import validate_schema
from tickets.models import Comment, Priority, Service, Status, Ticket, TicketEvent

DEMO_PASSWORD = "demo12345"  # noqa: S105 - published demo password, shown to every visitor
HISTORY_DAYS = 120
# The company is always the same people, whatever --seed says, so a re-run never adds a second
# roster; --seed only drives the ticket history.
ROSTER_SEED = 2026
ADMIN_USERNAME = "admin"

# (username, family name, given name, department code, role)
WELL_KNOWN_PEOPLE = (
    ("employee", "李", "娜", "HR", Membership.Role.MEMBER),
    ("agent", "王", "强", "IT", Membership.Role.AGENT),
    ("head", "陈", "静", "IT", Membership.Role.HEAD),
)
DEMO_LOGINS = (
    ("admin", "administrator: Django admin at /admin/, all pages"),
    ("employee", "李娜, employee of 人力资源部 (HR): files requests"),
    ("agent", "王强, agent of 信息技术部 (IT): works the IT queue"),
    ("head", "陈静, head of 信息技术部 (IT): queue, dashboard, catalog"),
)

# (code, name, parent code, agents): parents come before their children.
DEPARTMENTS: tuple[tuple[str, str, str | None, int | None], ...] = (
    ("GM", "总经办", None, 2),
    ("HR", "人力资源部", "GM", 3),
    ("IT", "信息技术部", "GM", 4),
    ("FIN", "财务部", "GM", 3),
    ("ADM", "行政部", "GM", 3),
    ("MKT", "市场部", "GM", None),
    ("SALES", "销售部", "GM", 2),
    ("LEGAL", "法务部", "GM", 2),
    ("PUR", "采购部", "GM", None),
    ("PROD", "生产部", "GM", None),
    ("QA", "质量部", "PROD", None),
    ("RD", "研发部", "GM", None),
)

FAMILY_NAMES = (
    ("张", "zhang"),
    ("王", "wang"),
    ("李", "li"),
    ("刘", "liu"),
    ("陈", "chen"),
    ("杨", "yang"),
    ("黄", "huang"),
    ("赵", "zhao"),
    ("吴", "wu"),
    ("周", "zhou"),
    ("徐", "xu"),
    ("孙", "sun"),
    ("马", "ma"),
    ("朱", "zhu"),
    ("胡", "hu"),
    ("郭", "guo"),
    ("何", "he"),
    ("林", "lin"),
    ("罗", "luo"),
    ("高", "gao"),
    ("郑", "zheng"),
    ("梁", "liang"),
    ("谢", "xie"),
    ("宋", "song"),
    ("唐", "tang"),
    ("韩", "han"),
    ("冯", "feng"),
    ("邓", "deng"),
    ("曹", "cao"),
    ("彭", "peng"),
    ("曾", "zeng"),
    ("萧", "xiao"),
    ("田", "tian"),
    ("董", "dong"),
    ("潘", "pan"),
    ("袁", "yuan"),
)
GIVEN_NAMES = (
    ("伟", "wei"),
    ("芳", "fang"),
    ("敏", "min"),
    ("丽", "li"),
    ("磊", "lei"),
    ("军", "jun"),
    ("洋", "yang"),
    ("勇", "yong"),
    ("艳", "yan"),
    ("杰", "jie"),
    ("娟", "juan"),
    ("涛", "tao"),
    ("明", "ming"),
    ("超", "chao"),
    ("霞", "xia"),
    ("平", "ping"),
    ("刚", "gang"),
    ("秀英", "xiuying"),
    ("晓东", "xiaodong"),
    ("婷婷", "tingting"),
    ("子涵", "zihan"),
    ("浩然", "haoran"),
    ("欣怡", "xinyi"),
    ("宇轩", "yuxuan"),
    ("思远", "siyuan"),
    ("雨桐", "yutong"),
    ("建国", "jianguo"),
    ("志强", "zhiqiang"),
    ("海燕", "haiyan"),
    ("文博", "wenbo"),
    ("佳怡", "jiayi"),
    ("俊杰", "junjie"),
    ("慧敏", "huimin"),
    ("天宇", "tianyu"),
    ("梦琪", "mengqi"),
    ("嘉伟", "jiawei"),
    ("晨曦", "chenxi"),
    ("一鸣", "yiming"),
    ("若曦", "ruoxi"),
    ("国华", "guohua"),
    ("红梅", "hongmei"),
    ("立新", "lixin"),
)

CUSTOMERS = (
    "华东精密制造有限公司",
    "深圳市海川电子有限公司",
    "成都天府智能科技有限公司",
    "杭州云帆数据有限公司",
    "苏州恒信机械有限公司",
    "武汉光谷新能源有限公司",
    "北京中科远望科技有限公司",
    "广州南方物流集团",
)
SUPPLIERS = (
    "上海智联信息科技有限公司",
    "北京华远广告有限公司",
    "宁波永兴五金制品厂",
    "江苏德润化工有限公司",
    "东莞利达塑胶有限公司",
    "无锡新创电子元件有限公司",
    "青岛海程物流有限公司",
)
PRODUCTS = ("XG-200 控制器", "T3 智能温控模块", "G5 工业网关", "S10 传感器套件", "M8 伺服驱动器")
NEW_COLLEAGUES = ("赵一鸣", "钱晓雪", "孙嘉豪", "周雨欣", "吴俊熙", "郑思彤", "冯子墨", "陈可馨")


# -- Catalog ------------------------------------------------------------------------------------
# A field is a form_schema entry plus "demo": how to make up a plausible answer (stripped before
# the schema is saved).


def _text(key: str, label: str, demo: tuple[str, ...], required: bool = True) -> dict[str, Any]:
    return {"key": key, "label": label, "type": "text", "required": required, "demo": demo}


def _textarea(
    key: str, label: str, demo: tuple[str, ...], required: bool = False
) -> dict[str, Any]:
    return {"key": key, "label": label, "type": "textarea", "required": required, "demo": demo}


def _number(
    key: str, label: str, low: int, high: int, required: bool = True, step: int = 1
) -> dict[str, Any]:
    return {
        "key": key,
        "label": label,
        "type": "number",
        "required": required,
        "demo": (low, high, step),
    }


def _date(
    key: str, label: str, low_days: int, high_days: int, required: bool = True
) -> dict[str, Any]:
    """A date field answered `low_days`..`high_days` after the ticket is filed."""
    return {
        "key": key,
        "label": label,
        "type": "date",
        "required": required,
        "demo": (low_days, high_days),
    }


def _choice(
    key: str, label: str, choices: tuple[str, ...], required: bool = True
) -> dict[str, Any]:
    return {
        "key": key,
        "label": label,
        "type": "choice",
        "choices": list(choices),
        "required": required,
    }


@dataclass(frozen=True)
class ServiceSpec:
    department: str
    name: str
    category: str
    description: str
    fields: tuple[dict[str, Any], ...]
    # Titles may name required fields as {key}; details become the ticket's description.
    titles: tuple[str, ...]
    details: tuple[str, ...]
    resolutions: tuple[str, ...] = ()
    priority: str = Priority.NORMAL
    consumers: tuple[str, ...] = ()  # empty: every department may request it
    weight: int = 3  # how often it is requested, relative to the others

    def schema(self) -> list[dict[str, Any]]:
        return validate_schema([{k: v for k, v in f.items() if k != "demo"} for f in self.fields])


CATALOG: tuple[ServiceSpec, ...] = (
    # 信息技术部
    ServiceSpec(
        "IT",
        "笔记本电脑申请",
        "硬件设备",
        "新员工入职或现有电脑使用超过 4 年时申请笔记本电脑。标准配置由信息技术部统一采购，"
        "特殊配置请写明理由并由部门负责人确认。",
        (
            _choice(
                "model",
                "型号",
                (
                    "ThinkPad T14（标准办公）",
                    "ThinkPad X1 Carbon（经常出差）",
                    "MacBook Pro 14（设计/研发）",
                    "Dell Precision（图形工作站）",
                ),
            ),
            _date("needed_by", "需要日期", 3, 21),
            _textarea(
                "reason",
                "申请理由",
                (
                    "新员工入职。",
                    "现有电脑已使用五年，运行缓慢，经常死机。",
                    "经常出差，需要更轻便的电脑。",
                    "需要运行仿真软件，内存不够。",
                ),
            ),
        ),
        ("申请笔记本电脑：{model}", "新同事入职需要一台笔记本", "电脑使用超过四年，申请更换"),
        (
            "下周一有新同事入职，请提前准备电脑并装好常用办公软件。",
            "现在这台电脑开机要五分钟，Outlook 经常卡死，影响工作，申请更换。",
            "部门负责人已同意，麻烦尽快安排。",
        ),
        (
            "电脑已准备好，系统和办公软件已安装，请到 3 楼 IT 服务台签字领取。",
            "新电脑已送到工位，旧电脑数据已迁移完毕，旧机请在一周内交回。",
        ),
        weight=8,
    ),
    ServiceSpec(
        "IT",
        "账号开通",
        "账号与权限",
        "为新员工或转岗员工开通企业邮箱、OA、ERP、CRM 等系统账号。"
        "请在员工到岗前至少 2 个工作日提交。",
        (
            _text("employee_name", "员工姓名", NEW_COLLEAGUES),
            _choice(
                "system",
                "系统",
                ("企业邮箱", "OA 办公系统", "ERP", "CRM", "企业微信", "代码仓库 GitLab"),
            ),
            _date("start_date", "开通日期", 1, 10),
        ),
        (
            "为新同事{employee_name}开通{system}账号",
            "开通 {system} 账号：{employee_name}",
            "{employee_name}转岗，需要 {system} 权限",
        ),
        (
            "新同事下周入职，请按部门标准权限开通。",
            "权限参照同岗位的同事即可。",
            "转岗后原部门的权限请一并回收。",
        ),
        (
            "账号已开通，初始密码已通过企业微信发给本人，首次登录需修改密码。",
            "权限已按岗位模板配置完成，请让同事登录确认。",
        ),
        weight=7,
    ),
    ServiceSpec(
        "IT",
        "VPN 权限",
        "账号与权限",
        "申请远程访问公司内网的 VPN 账号，用于出差、居家办公或外部驻场。长期权限需部门负责人审批。",
        (
            _choice("duration", "使用期限", ("1 个月", "3 个月", "6 个月", "长期")),
            _textarea(
                "reason",
                "用途",
                (
                    "下月去客户现场驻场，需要访问内网系统。",
                    "居家办公期间需要访问 ERP 和共享盘。",
                    "出差期间需要审批 OA 流程。",
                ),
                required=True,
            ),
        ),
        ("申请 VPN 权限（{duration}）", "出差期间需要远程访问内网", "居家办公申请开通 VPN"),
        ("出差两周，需要在外访问内网共享盘和 ERP。", "部门负责人已口头同意，请开通。"),
        ("VPN 已开通，客户端下载和配置说明见企业微信消息，首次连接需绑定手机令牌。",),
        weight=5,
    ),
    ServiceSpec(
        "IT",
        "打印机故障",
        "故障报修",
        "打印机、复印机、扫描仪无法使用或打印质量异常。紧急情况可同时拨打 IT 服务台分机 8000。",
        (
            _text(
                "location",
                "位置",
                ("3 楼东侧打印区", "5 楼财务部", "2 楼前台", "4 楼大会议室旁", "6 楼研发中心"),
            ),
            _choice(
                "symptom",
                "现象",
                ("无法打印", "频繁卡纸", "打印有条纹或发白", "无法扫描到邮箱", "其他"),
            ),
            _textarea(
                "detail",
                "补充说明",
                (
                    "屏幕显示错误代码 E-302。",
                    "换了纸还是卡。",
                    "只有我的电脑打印不了，其他同事正常。",
                ),
            ),
        ),
        ("{location}打印机故障：{symptom}", "打印机又卡纸了", "扫描到邮箱的功能用不了"),
        ("今天上午开始就这样，重启过打印机也没用。", "明天要打印投标文件，比较急，麻烦尽快。"),
        (
            "已更换定影组件并清洁进纸轮，测试打印正常。",
            "打印机驱动已重新安装，请再试一次。",
            "硒鼓已更换，打印质量恢复正常。",
        ),
        priority=Priority.HIGH,
        weight=6,
    ),
    ServiceSpec(
        "IT",
        "软件安装",
        "软件",
        "安装或升级办公、设计、开发类软件。需要付费授权的软件由信息技术部统一采购。",
        (
            _text(
                "software",
                "软件名称",
                (
                    "Visio",
                    "Adobe Acrobat Pro",
                    "AutoCAD 2025",
                    "PyCharm 专业版",
                    "Navicat",
                    "XMind",
                    "SPSS",
                ),
            ),
            _choice("license", "授权", ("公司已有授权", "需要新采购授权", "免费或开源软件")),
        ),
        ("安装 {software}", "申请 {software} 授权", "电脑需要安装 {software}"),
        ("工作需要，麻烦帮忙安装一下。", "原来的版本过期了，打开就提示激活。"),
        ("已远程安装完成并激活，请重启电脑后使用。",),
        weight=5,
    ),
    ServiceSpec(
        "IT",
        "网络故障",
        "故障报修",
        "有线网络、Wi-Fi 或视频会议网络异常。整层断网请直接电话联系 IT 服务台。",
        (
            _text("location", "位置", ("3 楼开放办公区", "大会议室", "5 楼财务部", "1 楼展厅")),
            _choice("scope", "影响范围", ("仅本人", "整个办公区", "会议室")),
        ),
        ("{location}网络故障（{scope}）", "Wi-Fi 频繁掉线", "视频会议很卡"),
        ("下午两点有客户视频会议，希望尽快处理。", "网速很慢，打开网页要半分钟。"),
        ("已更换该区域的无线 AP，信号恢复正常。", "交换机端口故障，已切换到备用端口。"),
        priority=Priority.HIGH,
        weight=4,
    ),
    # 人力资源部
    ServiceSpec(
        "HR",
        "招聘需求",
        "招聘",
        "部门新增或替补岗位的招聘需求。请写明岗位、人数和期望到岗时间，人力资源部会在 2 个工作日内"
        "与您沟通岗位画像。",
        (
            _text(
                "position",
                "岗位",
                (
                    "Java 开发工程师",
                    "销售经理（华南区）",
                    "会计",
                    "采购专员",
                    "质量工程师",
                    "品牌策划",
                    "生产主管",
                ),
            ),
            _number("headcount", "人数", 1, 4),
            _date("expected_onboard", "期望到岗日期", 20, 75),
            _textarea(
                "requirements",
                "任职要求",
                ("本科及以上，三年以上相关经验。", "有制造业背景优先，能适应出差。"),
            ),
        ),
        ("招聘 {headcount} 名{position}", "{position}岗位补员", "新增{position}编制"),
        ("原岗位同事下月离职，需要尽快补员。", "新项目启动，预算已批。", "年度编制内招聘。"),
        (
            "岗位已在招聘网站发布，已推荐三份简历，请查收邮件并安排面试。",
            "候选人已接受 offer，预计按期到岗。",
        ),
        weight=4,
    ),
    ServiceSpec(
        "HR",
        "在职证明",
        "证明材料",
        "开具在职证明、收入证明，用于签证、贷款、租房等。电子版当天出具，盖章纸质版 1–2 个工作日。",
        (
            _choice("certificate", "证明类型", ("在职证明", "收入证明", "在职及收入证明")),
            _choice("purpose", "用途", ("办理签证", "银行贷款", "租房", "子女入学", "其他")),
            _number("copies", "份数", 1, 3, required=False),
        ),
        ("开具{certificate}（{purpose}）", "申请{certificate}"),
        ("需要中英文版本各一份。", "银行要求写明月收入，谢谢。", "下周三前需要，谢谢。"),
        ("证明已开具盖章，请到 2 楼人力资源部前台领取。", "电子版已发到您的邮箱。"),
        priority=Priority.LOW,
        weight=6,
    ),
    ServiceSpec(
        "HR",
        "培训报名",
        "培训发展",
        "报名公司内部培训或申请外部培训费用。外部培训费用 3000 元以上需签订培训协议。",
        (
            _choice(
                "course",
                "课程",
                (
                    "新员工入职培训",
                    "管理者领导力训练营",
                    "Excel 数据分析",
                    "商务写作",
                    "安全生产培训",
                    "外部专业认证",
                ),
            ),
            _textarea("note", "备注", ("希望安排在月底。", "部门共 3 人报名。")),
        ),
        ("报名：{course}", "申请参加{course}"),
        ("部门负责人已同意参加。", "想提升一下这方面的能力，请问还有名额吗？"),
        ("已为您报名，课程通知和教室安排已发送到邮箱。",),
        priority=Priority.LOW,
        weight=3,
    ),
    ServiceSpec(
        "HR",
        "社保公积金咨询",
        "薪酬福利",
        "社保、公积金缴纳基数、提取、异地转移和医保报销等问题咨询。",
        (
            _choice(
                "topic",
                "问题类型",
                ("社保缴纳", "公积金提取", "医保报销", "异地转移", "个税专项扣除"),
            ),
            _textarea(
                "question",
                "问题描述",
                (
                    "想提取公积金用于租房，需要准备哪些材料？",
                    "上个月的社保好像没有缴上，帮忙查一下。",
                    "从外地转入的社保怎么办理？",
                ),
                required=True,
            ),
        ),
        ("咨询{topic}", "{topic}相关问题"),
        ("具体情况见下面的问题描述。", "请尽快回复，谢谢。"),
        (
            "已核实，材料清单和办理流程已发您邮箱，可在线办理。",
            "本月社保已正常缴纳，系统显示有延迟，下周可查询到。",
        ),
        priority=Priority.LOW,
        weight=4,
    ),
    # 财务部
    ServiceSpec(
        "FIN",
        "费用报销咨询",
        "报销",
        "报销政策、标准和单据要求的咨询，例如差旅补贴标准、发票抬头、超标审批。",
        (
            _choice(
                "expense_type", "费用类型", ("差旅费", "业务招待费", "办公费", "培训费", "其他")
            ),
            _number("amount", "金额（元）", 100, 20000, required=False, step=50),
            _textarea(
                "question",
                "问题",
                (
                    "报销单被退回，原因写的是发票抬头不符。",
                    "出差住宿超标了一点，怎么走审批？",
                    "电子发票重复打印了可以报销吗？",
                ),
                required=True,
            ),
        ),
        ("{expense_type}报销咨询", "报销单被退回，想确认原因", "发票抬头不对还能报销吗"),
        ("费用已经发生，想确认一下怎么处理。", "月底要关账，麻烦尽快答复。"),
        (
            "已电话沟通：请让开票方重开发票后重新提交报销单。",
            "超标部分需补部门负责人审批，已在系统中退回。",
        ),
        weight=6,
    ),
    ServiceSpec(
        "FIN",
        "付款申请",
        "付款",
        "对供应商或合作方的付款申请，请附合同编号；单笔 5 万元以上需总经办审批。",
        (
            _text("payee", "收款单位", SUPPLIERS),
            _number("amount", "金额（元）", 2000, 300000, step=100),
            _date("due_date", "付款期限", 3, 30),
            _text(
                "contract_no",
                "合同编号",
                ("HT-2026-0117", "HT-2026-0231", "HT-2026-0302", "HT-2026-0415"),
                required=False,
            ),
        ),
        ("向{payee}付款", "付款申请：{payee}"),
        ("货已验收，按合同约定支付尾款。", "预付款 30%，合同已归档。", "供应商催款，请优先处理。"),
        ("已付款，银行回单已上传至财务系统。", "付款已排入本周五的付款批次。"),
        weight=5,
    ),
    ServiceSpec(
        "FIN",
        "开具发票",
        "发票",
        "为客户开具增值税发票。仅销售部可申请，请确认开票信息与合同一致。",
        (
            _text("customer", "客户名称", CUSTOMERS),
            _number("amount", "开票金额（元）", 5000, 500000, step=100),
            _choice(
                "invoice_type", "发票类型", ("增值税专用发票", "增值税普通发票", "电子普通发票")
            ),
        ),
        ("为{customer}开具{invoice_type}", "客户催开发票：{customer}"),
        ("客户开票信息已在附件中，与合同一致。", "客户月底前要入账，麻烦尽快开具。"),
        ("发票已开具，纸质发票已寄出，快递单号已发您。", "电子发票已发送到客户邮箱。"),
        consumers=("SALES",),
        weight=4,
    ),
    ServiceSpec(
        "FIN",
        "预算调整申请",
        "预算",
        "年度预算内的科目调整或追加预算申请，由财务部审核后报总经办审批。",
        (
            _choice(
                "budget_item", "预算科目", ("人员费用", "市场推广", "差旅", "设备采购", "外包服务")
            ),
            _number("amount", "金额（元）", 10000, 500000, step=1000),
            _textarea(
                "reason",
                "原因",
                ("新增客户项目，需要追加出差预算。", "下半年展会数量增加。"),
                required=True,
            ),
        ),
        ("申请追加{budget_item}预算", "{budget_item}预算调整"),
        ("详细测算见说明，部门负责人已确认。",),
        ("预算调整已审批通过，系统中的可用额度已更新。",),
        weight=2,
    ),
    # 行政部
    ServiceSpec(
        "ADM",
        "会议室预订",
        "会议服务",
        "预订会议室及茶歇、投影、视频会议设备。20 人以上或跨天会议请提前 3 天预订。",
        (
            _choice(
                "room",
                "会议室",
                (
                    "1 号会议室（8 人）",
                    "2 号会议室（12 人）",
                    "大会议室（30 人）",
                    "培训室（40 人）",
                    "视频会议室",
                ),
            ),
            _date("meeting_date", "日期", 1, 14),
            _text(
                "time_slot", "时间段", ("09:30–11:00", "10:00–12:00", "14:00–16:00", "15:00–17:30")
            ),
            _number("attendees", "人数", 4, 30, required=False),
        ),
        ("预订{room}（{meeting_date}）", "客户来访，需要会议室", "部门例会会议室预订"),
        ("需要投影和茶歇。", "有外部客户参加，需要准备水果和桌签。", "需要视频会议设备连线深圳。"),
        ("已预订，茶歇会在会议开始前 15 分钟送到。", "会议室已锁定，门口电子屏会显示会议名称。"),
        weight=7,
    ),
    ServiceSpec(
        "ADM",
        "办公用品",
        "办公用品",
        "申领文具、耗材、打印纸等办公用品。每周二、周四下午统一发放。",
        (
            _textarea(
                "items",
                "物品清单",
                (
                    "A4 打印纸 2 箱",
                    "黑色签字笔 20 支，笔记本 10 本",
                    "HP 88A 硒鼓 1 个",
                    "文件夹 30 个，订书机 2 个",
                    "白板笔 10 支，便利贴 5 包",
                ),
                required=True,
            ),
        ),
        ("申领办公用品", "部门办公用品补充", "打印纸用完了"),
        ("部门新来了两位同事。", "季度常规补充。"),
        ("已备好，请周四下午到行政部领取。", "已送到部门工位。"),
        priority=Priority.LOW,
        weight=6,
    ),
    ServiceSpec(
        "ADM",
        "差旅预订",
        "差旅",
        "代订机票、火车票和协议酒店。请写明出行日期和目的地；行程变更请在原工单中回复。",
        (
            _text(
                "destination", "目的地", ("北京", "深圳", "成都", "杭州", "武汉", "西安", "苏州")
            ),
            _date("depart_date", "出发日期", 2, 20),
            _date("return_date", "返回日期", 22, 30, required=False),
            _choice("transport", "交通方式", ("高铁", "飞机", "自行前往，仅订酒店")),
        ),
        ("{destination}出差预订（{depart_date} 出发）", "去{destination}拜访客户，预订行程"),
        ("住宿请订在客户公司附近。", "两人同行，另一位同事信息见备注。"),
        ("行程已订好，电子票和酒店确认单已发到邮箱。",),
        weight=5,
    ),
    ServiceSpec(
        "ADM",
        "办公环境报修",
        "后勤服务",
        "空调、照明、水电、桌椅、门窗等办公环境问题报修。",
        (
            _text(
                "location",
                "位置",
                ("3 楼开放办公区", "5 楼茶水间", "2 号会议室", "6 楼研发中心", "1 楼前台"),
            ),
            _choice("issue", "问题", ("空调", "照明", "水电", "桌椅", "门窗", "其他")),
            _textarea("detail", "描述", ("空调一直滴水。", "灯管一闪一闪的。", "椅子升降坏了。")),
        ),
        ("{location}{issue}报修", "办公区报修：{issue}"),
        ("影响周围几位同事办公，麻烦尽快。", "下午有会议，需要上午修好。"),
        ("物业师傅已上门维修完毕。", "已更换新的，旧的已回收。"),
        weight=5,
    ),
    # 市场部
    ServiceSpec(
        "MKT",
        "市场分析报告",
        "市场研究",
        "为销售团队提供目标行业、区域或竞品的市场分析报告，一般 5–10 个工作日交付。"
        "仅销售部可申请。",
        (
            _choice("topic", "报告类型", ("行业趋势", "竞品分析", "区域市场规模", "客户画像")),
            _text("region", "区域", ("华东", "华南", "华北", "西南", "东南亚")),
            _date("due_date", "期望交付日期", 10, 30),
            _textarea(
                "background", "背景", ("下季度计划重点开拓该区域。", "客户招标需要竞品对比数据。")
            ),
        ),
        ("{region}{topic}报告", "需要一份{region}市场的{topic}"),
        ("用于下月的客户提案。", "年度销售规划需要，请包含主要竞争对手的价格区间。"),
        ("报告已完成，已上传至共享盘“市场研究/2026”，欢迎反馈。",),
        consumers=("SALES",),
        weight=3,
    ),
    ServiceSpec(
        "MKT",
        "宣传物料设计",
        "品牌设计",
        "海报、宣传册、易拉宝、PPT 模板、短视频等宣传物料的设计制作。",
        (
            _choice("material", "物料", ("海报", "宣传册", "易拉宝", "PPT 模板", "产品短视频")),
            _number("quantity", "数量", 1, 500, required=False),
            _date("due_date", "需要日期", 5, 20),
            _textarea(
                "brief",
                "设计需求",
                ("突出新产品的节能卖点。", "用于校园招聘宣讲会。", "客户答谢会使用，风格正式。"),
                required=True,
            ),
        ),
        ("设计{material}", "{material}设计需求"),
        ("参考素材见下方描述。", "尺寸和文案稍后补充。"),
        ("设计稿已定稿，源文件和印刷文件已发到邮箱。",),
        weight=4,
    ),
    ServiceSpec(
        "MKT",
        "展会活动支持",
        "活动支持",
        "展会、客户活动、发布会的策划与现场支持。",
        (
            _text(
                "event_name",
                "活动名称",
                ("中国国际工业博览会", "华东区客户答谢会", "新品发布会", "行业技术研讨会"),
            ),
            _date("event_date", "活动日期", 15, 60),
            _number("budget", "预算（元）", 20000, 300000, required=False, step=1000),
        ),
        ("{event_name}活动支持", "申请{event_name}市场支持"),
        ("需要展位设计和现场物料。", "预计邀请 50 位客户。"),
        ("活动方案已确认，物料和人员安排见附件方案。",),
        consumers=("SALES", "RD", "GM"),
        weight=2,
    ),
    # 销售部
    ServiceSpec(
        "SALES",
        "销售数据查询",
        "数据支持",
        "按区域、产品线或客户查询销售数据，用于经营分析和计划。",
        (
            _choice("period", "期间", ("上月", "本季度", "上季度", "本年度至今")),
            _choice("dimension", "维度", ("按区域", "按产品线", "按客户", "按销售人员")),
            _textarea("purpose", "用途", ("月度经营分析会使用。", "编制下季度生产计划。")),
        ),
        ("查询{period}销售数据（{dimension}）", "{period}销售数据汇总"),
        ("Excel 格式即可。", "需要含税和不含税两列。"),
        ("数据已导出并发到您的邮箱，口径说明在第一页。",),
        consumers=("FIN", "MKT", "GM", "PROD", "PUR"),
        weight=3,
    ),
    ServiceSpec(
        "SALES",
        "客户拜访陪同",
        "客户对接",
        "需要销售同事陪同拜访客户、参与技术交流或现场服务。",
        (
            _text("customer", "客户", CUSTOMERS),
            _date("visit_date", "拜访日期", 3, 20),
            _textarea(
                "purpose",
                "拜访目的",
                ("新产品技术交流。", "处理客户质量反馈。", "现场调研需求。"),
                required=True,
            ),
        ),
        ("陪同拜访{customer}", "需要销售同事一起拜访{customer}"),
        ("希望由负责该客户的销售经理陪同。",),
        ("已与客户确认时间，销售经理将全程陪同。",),
        consumers=("RD", "MKT", "QA", "PROD"),
        weight=2,
    ),
    # 法务部
    ServiceSpec(
        "LEGAL",
        "合同审核",
        "合同",
        "各类合同、协议的法律审核。标准合同 2 个工作日，非标准合同 5 个工作日。",
        (
            _choice(
                "contract_type",
                "合同类型",
                ("销售合同", "采购合同", "劳动合同", "保密协议", "合作框架协议", "其他"),
            ),
            _text("counterparty", "对方单位", CUSTOMERS + SUPPLIERS),
            _number("amount", "合同金额（元）", 10000, 2000000, required=False, step=1000),
            _date("due_date", "期望完成日期", 2, 10, required=False),
        ),
        ("{contract_type}审核：{counterparty}", "请审核与{counterparty}的{contract_type}"),
        (
            "对方使用的是他们的模板，请重点看违约责任和付款条款。",
            "标准模板，改了交付日期。",
            "客户催签，麻烦优先。",
        ),
        ("已审核，修改意见以批注形式返回，请与对方确认后再走用印流程。", "审核通过，可以签署。"),
        weight=6,
    ),
    ServiceSpec(
        "LEGAL",
        "法律咨询",
        "咨询",
        "劳动用工、知识产权、合同纠纷、数据合规等法律问题咨询。",
        (
            _choice("topic", "领域", ("劳动用工", "知识产权", "合同纠纷", "数据合规", "其他")),
            _textarea(
                "question",
                "问题",
                (
                    "客户逾期付款三个月，我们可以采取什么措施？",
                    "试用期员工不符合录用条件，如何合规处理？",
                    "收集客户手机号需要注意什么？",
                ),
                required=True,
            ),
        ),
        ("{topic}法律咨询", "关于{topic}的问题"),
        ("详细情况见问题描述，方便时电话沟通。",),
        ("已电话沟通并邮件发送书面意见。",),
        weight=3,
    ),
    ServiceSpec(
        "LEGAL",
        "知识产权申请",
        "知识产权",
        "专利、商标、软件著作权的申请与维护。",
        (
            _choice("ip_type", "类型", ("发明专利", "实用新型", "外观设计", "商标", "软件著作权")),
            _text(
                "subject",
                "名称",
                ("一种低功耗温控方法", "G5 网关管理软件", "“智控”商标", "S10 传感器外壳"),
            ),
        ),
        ("申请{ip_type}：{subject}", "{subject}{ip_type}申请"),
        ("技术交底书已准备好。", "产品下月发布，希望在发布前提交申请。"),
        ("申请材料已提交代理机构，受理通知书下发后会同步给您。",),
        consumers=("RD", "MKT"),
        weight=2,
    ),
    # 采购部
    ServiceSpec(
        "PUR",
        "采购申请",
        "采购",
        "设备、原材料、服务等的采购申请。单价 1 万元以上需三家比价。",
        (
            _text(
                "item",
                "物品或服务",
                (
                    "显示器",
                    "测试示波器",
                    "工业相机",
                    "办公椅",
                    "服务器内存条",
                    "激光打标机",
                    "外包翻译服务",
                ),
            ),
            _number("quantity", "数量", 1, 50),
            _number("budget", "预算（元）", 500, 200000, step=100),
            _date("needed_by", "需要日期", 7, 45),
            _textarea("spec", "规格要求", ("27 寸 4K，Type-C 接口。", "带宽 200MHz 以上。")),
        ),
        ("采购{item} {quantity} 件", "申请采购{item}"),
        ("预算已在年度计划中。", "项目急需，希望能加急。", "推荐供应商见规格说明。"),
        ("已下单，预计两周内到货，到货后通知您验收。", "已完成三家比价，合同审批中。"),
        weight=6,
    ),
    ServiceSpec(
        "PUR",
        "供应商引入",
        "供应商管理",
        "引入新供应商，需完成资质审核和质量评估。",
        (
            _text("supplier", "供应商名称", SUPPLIERS),
            _choice(
                "supply_category",
                "类别",
                ("原材料", "设备", "IT 服务", "物流", "咨询服务", "办公用品"),
            ),
            _textarea(
                "reason", "引入理由", ("现有供应商交期不稳定。", "价格更有竞争力。"), required=True
            ),
        ),
        ("引入新供应商：{supplier}", "{supply_category}供应商准入申请"),
        ("已初步接触，对方可提供样品。",),
        ("资质审核已通过，已录入合格供应商名录。",),
        weight=2,
    ),
    ServiceSpec(
        "PUR",
        "采购进度查询",
        "采购",
        "查询已提交采购单的下单、发货和到货进度。",
        (
            _text(
                "po_no",
                "采购单号",
                (
                    "PO-2026-00871",
                    "PO-2026-00912",
                    "PO-2026-01033",
                    "PO-2026-01150",
                    "PO-2026-01208",
                ),
            ),
        ),
        ("查询采购单 {po_no} 进度", "{po_no} 什么时候到货？"),
        ("项目下周要用，请帮忙催一下。",),
        ("供应商已发货，物流单号已回复，预计后天到货。",),
        priority=Priority.LOW,
        weight=3,
    ),
    # 生产部
    ServiceSpec(
        "PROD",
        "样品制作",
        "样品",
        "为客户测试、展会或研发验证制作样品。",
        (
            _text("product", "产品", PRODUCTS),
            _number("quantity", "数量", 1, 20),
            _date("needed_by", "需要日期", 5, 25),
            _textarea("note", "要求", ("需要贴客户 logo。", "按最新版图纸制作。")),
        ),
        ("{product}样品制作 {quantity} 件", "客户需要{product}样品"),
        ("客户下月测试，请安排排产。", "展会展示用，外观要好。"),
        ("样品已完成并通过出厂检验，请到成品仓领取。",),
        consumers=("SALES", "RD", "MKT", "QA"),
        weight=3,
    ),
    ServiceSpec(
        "PROD",
        "生产排期咨询",
        "生产计划",
        "订单排产、交期确认和插单评估。",
        (
            _text(
                "order_no",
                "订单号",
                ("SO-2026-0412", "SO-2026-0457", "SO-2026-0520", "SO-2026-0588"),
            ),
            _textarea(
                "question",
                "问题",
                ("客户希望提前一周交货，能否安排？", "这个订单目前排在哪一天生产？"),
            ),
        ),
        ("订单 {order_no} 排期咨询", "{order_no} 能否提前交付？"),
        ("客户催得比较紧。",),
        ("已评估，可以提前 5 天交付，排产计划已更新。", "产能已满，最早按原计划交付。"),
        consumers=("SALES", "PUR", "FIN"),
        weight=3,
    ),
    # 质量部
    ServiceSpec(
        "QA",
        "来料检验",
        "检验",
        "原材料和外购件的来料检验，加急检验请写明原因。",
        (
            _text("material", "物料", ("PCB 主板", "塑胶外壳", "铝合金支架", "电源模块", "连接器")),
            _text("batch_no", "批次号", ("B260712", "B260803", "B260915", "B261021")),
            _number("quantity", "数量", 50, 5000, step=50),
        ),
        ("{material}来料检验（批次 {batch_no}）", "加急检验：{material}"),
        ("产线等料，麻烦加急。", "新供应商首批来料，请全检。"),
        ("检验合格，已放行入库。", "抽检发现 3 件尺寸超差，已开不合格品报告，退供应商处理。"),
        priority=Priority.HIGH,
        consumers=("PUR", "PROD"),
        weight=4,
    ),
    ServiceSpec(
        "QA",
        "客户投诉质量分析",
        "质量分析",
        "客户质量投诉的原因分析和 8D 报告。",
        (
            _text("customer", "客户", CUSTOMERS),
            _text("product", "产品", PRODUCTS),
            _textarea(
                "complaint",
                "投诉内容",
                ("客户反馈批量产品上电后指示灯不亮。", "现场有 2 台设备运行一周后死机。"),
                required=True,
            ),
        ),
        ("{customer}投诉：{product}质量问题", "客户反馈{product}故障，需要 8D 分析"),
        ("客户要求一周内提供初步分析。", "不良品已寄回，快递明天到。"),
        ("8D 报告已完成，根因是来料电容批次问题，纠正措施已落实。",),
        priority=Priority.HIGH,
        consumers=("SALES",),
        weight=2,
    ),
    ServiceSpec(
        "QA",
        "质量体系咨询",
        "体系管理",
        "ISO 9001 等管理体系文件、内审和认证相关咨询。",
        (
            _choice("standard", "体系", ("ISO 9001", "ISO 14001", "IATF 16949", "ISO 27001")),
            _textarea(
                "question",
                "问题",
                ("部门流程文件需要更新，模板在哪里？", "内审发现的不符合项怎么关闭？"),
                required=True,
            ),
        ),
        ("{standard}体系咨询", "内审前{standard}文件咨询"),
        ("下月外审，想提前准备。",),
        ("模板和填写示例已发您，有问题随时联系。",),
        priority=Priority.LOW,
        weight=2,
    ),
    # 研发部
    ServiceSpec(
        "RD",
        "技术支持",
        "技术支持",
        "产品技术问题、客户现场问题的研发支持。",
        (
            _text("product", "产品", PRODUCTS),
            _text("customer", "客户", CUSTOMERS, required=False),
            _textarea(
                "issue",
                "问题描述",
                (
                    "客户现场通信偶发中断，日志见附件。",
                    "新固件升级后参数丢失。",
                    "客户询问能否支持 Modbus TCP。",
                ),
                required=True,
            ),
        ),
        ("{product}技术支持", "客户现场{product}异常，需要研发支持"),
        ("客户比较着急，希望今天能给个初步答复。", "已尝试重启和恢复出厂设置，问题依旧。"),
        ("已定位为固件缺陷，补丁版本 2.3.1 已发布，请指导客户升级。", "已远程协助客户完成配置。"),
        priority=Priority.HIGH,
        consumers=("SALES", "MKT", "PROD", "QA"),
        weight=4,
    ),
    ServiceSpec(
        "RD",
        "产品需求提交",
        "产品需求",
        "向研发提交产品功能需求或改进建议，研发每两周评审一次。",
        (
            _choice("product", "产品", PRODUCTS),
            _choice("importance", "来源", ("客户强烈要求", "竞品已有", "内部效率提升")),
            _textarea(
                "requirement",
                "需求描述",
                ("希望支持远程批量升级固件。", "增加英文界面。", "导出报表支持 Excel。"),
                required=True,
            ),
        ),
        ("{product}新需求（{importance}）", "产品需求：{product}"),
        ("多个客户提过类似需求。",),
        ("需求已纳入 Q4 版本规划，评审结论见需求池。",),
        priority=Priority.LOW,
        weight=2,
    ),
    # 总经办
    ServiceSpec(
        "GM",
        "用印申请",
        "行政审批",
        "公章、合同专用章、法人章的使用申请。合同用印须先通过法务审核。",
        (
            _text(
                "document",
                "文件名称",
                (
                    "年度服务合同",
                    "对外报价单",
                    "员工在职证明（批量）",
                    "政府补贴申报材料",
                    "投标文件",
                ),
            ),
            _choice("seal", "印章", ("公章", "合同专用章", "法人章")),
            _number("copies", "份数", 1, 5),
        ),
        ("{document}用印（{seal}）", "申请加盖{seal}：{document}"),
        ("法务已审核通过。", "投标截止前需要，比较急。"),
        ("已盖章，请到总经办领取。",),
        weight=4,
    ),
    ServiceSpec(
        "GM",
        "总经理会议预约",
        "会议安排",
        "预约与总经理的汇报或决策会议。",
        (
            _text(
                "topic",
                "议题",
                ("季度经营汇报", "重点客户合作方案", "年度预算评审", "组织架构调整"),
            ),
            _date("expected_date", "期望日期", 3, 15),
            _choice("duration", "时长", ("30 分钟", "1 小时", "2 小时")),
        ),
        ("预约总经理会议：{topic}", "{topic}汇报时间预约"),
        ("材料会提前一天发给总经办。",),
        ("已安排，会议邀请已发送。",),
        weight=2,
    ),
)

# -- What people write -------------------------------------------------------------------------

ACKNOWLEDGEMENTS = (
    "您好，已收到，正在处理。",
    "收到，今天内给您回复。",
    "您好，我来跟进这个工单。",
    "已了解情况，我先看一下，稍后联系您。",
)
QUESTIONS = (
    "麻烦补充一下详细信息（截图或相关单据编号），收到后我们继续处理。",
    "需要您部门负责人确认一下，确认后请在这里回复。",
    "请问您什么时间方便？我们到现场处理。",
    "信息不太完整，请补充具体的数量和时间要求。",
)
REPLIES = (
    "已补充，详细信息如下：已按要求填写。",
    "部门负责人已确认，可以继续。",
    "明天上午 10 点以后都可以。",
    "数量和时间已更新在描述里，谢谢。",
)
INTERNAL_NOTES = (
    "和上周的类似需求处理方式一样，可以参考。",
    "需要采购部配合，已电话沟通。",
    "申请人比较急，建议本周内完成。",
    "已和供应商确认，预计三个工作日到货。",
    "注意：该部门本季度预算已接近上限，先和负责人确认。",
    "这个问题第二次出现了，记入问题清单。",
)
GENERIC_RESOLUTIONS = ("已处理完毕，请确认。如有问题可重新打开工单。", "已办理完成，谢谢配合。")
THANKS = ("已确认，谢谢！", "问题已解决，感谢支持。", "收到，处理很及时，谢谢。")
FOLLOW_UPS = ("请问大概什么时候能处理？比较急。", "补充说明：如有疑问可直接电话联系我。")
REOPENINGS = ("问题又出现了，麻烦再看一下。", "结果和需求不一致，请重新处理。")
CANCELLATIONS = (
    "需求有变化，先取消这个申请。",
    "已经通过其他方式解决，取消。",
    "重复提交了，取消此单。",
)
HEAD_CANCELLATIONS = (
    "该需求不在本部门服务范围内，已与申请人沟通，请改提交到对应部门。",
    "与另一张工单重复，已合并处理，此单取消。",
)

# Target status by the ticket's age: recent tickets are still open, old ones are mostly closed.
STATUS_WEIGHTS_BY_AGE: tuple[tuple[float, dict[str, int]], ...] = (
    (
        2,
        {
            Status.NEW: 30,
            Status.ASSIGNED: 20,
            Status.IN_PROGRESS: 25,
            Status.WAITING: 8,
            Status.RESOLVED: 12,
            Status.CANCELLED: 5,
        },
    ),
    (
        10,
        {
            Status.NEW: 4,
            Status.ASSIGNED: 8,
            Status.IN_PROGRESS: 18,
            Status.WAITING: 12,
            Status.RESOLVED: 25,
            Status.CLOSED: 28,
            Status.CANCELLED: 5,
        },
    ),
    (
        float("inf"),
        {
            Status.NEW: 1,
            Status.ASSIGNED: 1,
            Status.IN_PROGRESS: 3,
            Status.WAITING: 3,
            Status.RESOLVED: 4,
            Status.CLOSED: 82,
            Status.CANCELLED: 6,
        },
    ),
)
PRIORITY_ORDER = (Priority.LOW, Priority.NORMAL, Priority.HIGH, Priority.URGENT)
# Urgent work moves faster through every step.
PACE = {Priority.URGENT: 0.25, Priority.HIGH: 0.5, Priority.NORMAL: 1.0, Priority.LOW: 1.6}


# -- Roster ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    username: str
    last_name: str
    first_name: str
    department: str
    role: str


def build_roster() -> list[Person]:
    """The company's people, the same on every run: a head, agents and employees per department."""
    rng = random.Random(ROSTER_SEED)
    taken_names = {(family, given) for _, family, given, _, _ in WELL_KNOWN_PEOPLE}
    taken_usernames = {ADMIN_USERNAME} | {username for username, *_ in WELL_KNOWN_PEOPLE}
    well_known = {
        (dept, role): (username, family, given)
        for username, family, given, dept, role in WELL_KNOWN_PEOPLE
    }
    people: list[Person] = []

    def invent(department: str, role: str) -> Person:
        while True:
            family, family_py = rng.choice(FAMILY_NAMES)
            given, given_py = rng.choice(GIVEN_NAMES)
            if (family, given) not in taken_names:
                break
        taken_names.add((family, given))
        username, n = family_py + given_py, 1
        while username in taken_usernames:
            n += 1
            username = f"{family_py}{given_py}{n}"
        taken_usernames.add(username)
        return Person(username, family, given, department, role)

    for code, _name, _parent, agents in DEPARTMENTS:
        counts = {
            Membership.Role.HEAD: 1,
            Membership.Role.AGENT: agents or rng.randint(2, 4),
            Membership.Role.MEMBER: rng.randint(5, 10),
        }
        for role, count in counts.items():
            for index in range(count):
                known = well_known.get((code, role)) if index == 0 else None
                if known:
                    username, family, given = known
                    people.append(Person(username, family, given, code, role))
                else:
                    people.append(invent(code, role))
    return people


# -- Ticket stories ----------------------------------------------------------------------------

Action = Callable[[Ticket], object]


@dataclass
class Story:
    """One ticket to file and what happens to it afterwards, step by step."""

    spec: ServiceSpec
    service: Service
    requester: User
    created_at: datetime
    target: str
    title: str = ""
    description: str = ""
    priority: str = Priority.NORMAL
    form_data: dict[str, Any] = field(default_factory=dict)
    source: str = Ticket.Source.WEB
    # (minutes after the previous step, action); scaled down when a history would reach the future
    steps: list[tuple[float, Action]] = field(default_factory=list)


@dataclass
class Staff:
    head: User
    agents: list[User]  # agents and the head: everyone who works the queue
    requesters: list[tuple[User, int]]  # home-department people with a weight


class _Fields(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


class Command(BaseCommand):
    help = (
        "Load the demo company: 12 departments (总经办, 人力资源部, 信息技术部, ...), "
        f"their people, {len(CATALOG)} services and a few months of tickets with comments and "
        "timelines. Safe to run again: nothing is duplicated, and tickets are only created while "
        f"the demo services have none. Demo sign-in, password {DEMO_PASSWORD}: "
        + "; ".join(f"{username} ({who})" for username, who in DEMO_LOGINS)
        + ". Every other demo person has the same password."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--tickets", type=int, default=600, help="How many tickets to create (default 600)."
        )
        parser.add_argument(
            "--seed",
            type=int,
            default=1,
            help="Random seed for the ticket history (default 1); the same seed "
            "gives the same history. The people are the same for every seed.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        count: int = options["tickets"]
        seed: int = options["seed"]
        if count < 0:
            raise CommandError("--tickets must be zero or more")
        started = time.monotonic()
        with transaction.atomic():
            departments = self._load_departments()
            admin = self._load_people(departments)
            services = self._load_services(departments, admin)
            self._load_service_levels(departments, services)
        created = self._load_tickets(count, seed, departments, services)
        load_demo_feedback(seed=seed, write=self.stdout.write)
        self._summary(services, created, seed, time.monotonic() - started)

    # -- Org chart and catalog ------------------------------------------------------------------

    def _load_departments(self) -> dict[str, Department]:
        departments: dict[str, Department] = {}
        new = 0
        for code, name, parent_code, _agents in DEPARTMENTS:
            existing = Department.objects.filter(code=code).first()
            new += existing is None
            departments[code] = save_department(
                department=existing,
                code=code,
                name=name,
                parent=departments[parent_code] if parent_code else None,
            )
        if new:
            self.stdout.write(f"departments: {new} created, {len(departments) - new} updated")
        else:
            self.stdout.write("departments: all 12 already exist, updated in place")
        return departments

    def _load_people(self, departments: dict[str, Department]) -> User:
        """Create the roster people that do not exist yet; existing people are left alone."""
        roster = build_roster()
        existing = set(
            User.objects.filter(
                username__in=[ADMIN_USERNAME] + [p.username for p in roster]
            ).values_list("username", flat=True)
        )
        new_ids: list[int] = []
        if ADMIN_USERNAME not in existing:
            admin = save_user(
                username=ADMIN_USERNAME,
                email="admin@example.com",
                first_name="系统管理员",
                last_name="",
                is_staff=True,
                is_superuser=True,
                department=departments["IT"],
            )
            new_ids.append(admin.pk)
        for person in roster:
            if person.username in existing:
                continue
            user = save_user(
                username=person.username,
                email=f"{person.username}@example.com",
                first_name=person.first_name,
                last_name=person.last_name,
                department=departments[person.department],
            )
            if person.role != Membership.Role.MEMBER:
                set_membership(
                    user=user, department=departments[person.department], role=person.role
                )
            new_ids.append(user.pk)
        # One hash shared by every new demo person: hashing each password separately would
        # take about a minute (PBKDF2), for a password that is published anyway.
        User.objects.filter(pk__in=new_ids).update(password=make_password(DEMO_PASSWORD))
        if new_ids:
            self.stdout.write(f"people: {len(new_ids)} created, {len(existing)} already existed")
        else:
            self.stdout.write(f"people: all {len(existing)} already exist, left unchanged")
        admin = User.objects.get(username=ADMIN_USERNAME)
        if not admin.is_staff:
            raise CommandError(
                f"user {ADMIN_USERNAME!r} exists but is not staff; cannot set up the catalog as it"
            )
        return admin

    def _load_services(self, departments: dict[str, Department], admin: User) -> list[Service]:
        services: list[Service] = []
        new = 0
        for spec in CATALOG:
            department = departments[spec.department]
            existing = Service.objects.filter(department=department, name=spec.name).first()
            new += existing is None
            services.append(
                ticket_services.save_service(
                    actor=admin,
                    service=existing,
                    department=department,
                    name=spec.name,
                    description=spec.description,
                    category=spec.category,
                    form_schema=spec.schema(),
                    default_priority=spec.priority,
                    is_active=True,
                    allowed_consumers=[departments[code] for code in spec.consumers],
                )
            )
        self.stdout.write(f"services: {new} created, {len(services) - new} updated")
        return services

    # -- Tickets -------------------------------------------------------------------------------

    def _load_service_levels(
        self, departments: dict[str, Department], services: list[Service]
    ) -> None:
        """China's official calendar, a standard and an express policy, and a few agreements."""
        this_year = timezone.localdate().year
        years = [this_year - 1, this_year, this_year + 1]
        known = [year for year in years if _package_knows(year)]
        calendar, imported = import_china_years(years=known)
        self.stdout.write(
            "calendar: "
            + ", ".join(
                f"{r.year} ({r.closed_days} closed, {r.working_days} make-up)" for r in imported
            )
        )
        if len(known) < len(years):
            self.stdout.write(
                f"  (the holiday package does not know {sorted(set(years) - set(known))} yet: "
                "due times there count weekly hours only and say so)"
            )
        standard, _ = SlaPolicy.objects.update_or_create(
            name="标准服务",
            defaults={
                "calendar": calendar,
                "targets": {
                    "urgent": {"response": 30, "resolution": 240},
                    "high": {"response": 60, "resolution": 960},
                    "normal": {"response": 240, "resolution": 2400},
                    "low": {"response": 480, "resolution": 4800},
                },
                "warning_percent": 75,
                "ladder": [
                    {"at_percent": 100, "notify": "department_head"},
                    {"at_percent": 150, "notify": "parent_department_head"},
                ],
            },
        )
        express, _ = SlaPolicy.objects.update_or_create(
            name="总经办加急",
            defaults={
                "calendar": calendar,
                "targets": {
                    "urgent": {"response": 15, "resolution": 120},
                    "high": {"response": 30, "resolution": 480},
                    "normal": {"response": 60, "resolution": 960},
                    "low": {"response": 240, "resolution": 2400},
                },
                "warning_percent": 60,
                "ladder": [{"at_percent": 100, "notify": "department_head"}],
            },
        )
        Department.objects.filter(pk__in=[d.pk for d in departments.values()]).update(
            default_sla_policy=standard
        )
        config_cache.changed()  # an update() sends no signal: running processes re-read
        # Everyone serves the general office faster (a hierarchical customer, 职级客户), and
        # Marketing's analyses for Sales run on the process agreement (流程客户).
        for code in ("IT", "ADM", "HR", "FIN"):
            Agreement.objects.update_or_create(
                provider_department=departments[code],
                consumer_department=departments["GM"],
                service=None,
                defaults={"policy": express, "relation_type": Agreement.RelationType.HIERARCHICAL},
            )
        Agreement.objects.update_or_create(
            provider_department=departments["MKT"],
            consumer_department=departments["SALES"],
            service=None,
            defaults={"policy": standard, "relation_type": Agreement.RelationType.PROCESS},
        )
        self.stdout.write("service levels: 2 policies, 5 agreements")

    def _load_tickets(
        self, count: int, seed: int, departments: dict[str, Department], services: list[Service]
    ) -> int:
        existing = Ticket.objects.filter(service__in=services).count()
        if existing:
            self.stdout.write(f"tickets: {existing} demo tickets already exist, none added")
            return 0
        if count == 0:
            return 0
        rng = random.Random(seed)
        now = timezone.now()
        staff = self._staff(departments)
        stories = [self._story(rng, now, services, departments, staff) for _ in range(count)]
        self._cover_every_status(rng, stories)
        for story in stories:
            self._plan(rng, story, staff[story.spec.department], now)
        stories.sort(key=lambda s: s.created_at)  # references then grow with filing time
        progress_every = 100 if count >= 200 else max(10, count // 5)
        # One transaction: much faster on SQLite, and all or nothing, so that "the demo services
        # have tickets" reliably means the history was loaded.
        # Notifications are switched off around the commit too: that is when they would be sent.
        # No mail about months-old demo history to made-up addresses.
        with ticket_services.notifications_muted(), transaction.atomic():
            for done, story in enumerate(stories, start=1):
                self._play(story)
                if done % progress_every == 0 or done == count:
                    self.stdout.write(f"tickets {done}/{count}")
            self._stamp_ticket_times(services)
            # The clocks ran at load time; recompute them from the back-dated timelines.
            tickets = Ticket.objects.filter(service__in=services).select_related(
                "service__department"
            )
            for done, ticket in enumerate(tickets.iterator(chunk_size=200), start=1):
                replay_clocks(ticket)
                if done % progress_every == 0 or done == count:
                    self.stdout.write(f"SLA clocks {done}/{count}")
        return count

    def _staff(self, departments: dict[str, Department]) -> dict[str, Staff]:
        staff: dict[str, Staff] = {}
        for code, department in departments.items():
            memberships = list(
                Membership.objects.filter(department=department, user__is_active=True)
                .select_related("user")
                .order_by("user__username")
            )
            heads = [m.user for m in memberships if m.role == Membership.Role.HEAD]
            agents = [m.user for m in memberships if m.role == Membership.Role.AGENT]
            if not heads or not agents:
                raise CommandError(f"department {code} needs an active head and agents")
            # Requesters are the department's own people; employees file more than agents do.
            requesters = [
                (m.user, 3 if m.role == Membership.Role.MEMBER else 1)
                for m in memberships
                if m.user.department_id == department.pk and m.user.username != ADMIN_USERNAME
            ]
            staff[code] = Staff(head=heads[0], agents=agents + heads, requesters=requesters)
        return staff

    def _story(
        self,
        rng: random.Random,
        now: datetime,
        services: list[Service],
        departments: dict[str, Department],
        staff: dict[str, Staff],
    ) -> Story:
        index = rng.choices(range(len(CATALOG)), weights=[s.weight for s in CATALOG])[0]
        spec, service = CATALOG[index], services[index]
        consumers = [code for code in (spec.consumers or departments) if code != spec.department]
        if "HR" in consumers and rng.random() < 0.06:
            # The demo "employee" has a useful list of their own requests to look at.
            requester = next(u for u, _ in staff["HR"].requesters if u.username == "employee")
        else:
            pool = [pair for code in consumers for pair in staff[code].requesters]
            requester = rng.choices([u for u, _ in pool], weights=[w for _, w in pool])[0]
        created_at = _filing_time(rng, now)
        age_days = (now - created_at).total_seconds() / 86400
        weights = next(w for limit, w in STATUS_WEIGHTS_BY_AGE if age_days < limit)
        target = rng.choices(list(weights), weights=list(weights.values()))[0]
        return Story(
            spec=spec, service=service, requester=requester, created_at=created_at, target=target
        )

    @staticmethod
    def _cover_every_status(rng: random.Random, stories: list[Story]) -> None:
        """Make sure each status shows up at least once (small demo sets can miss one)."""
        for status in Status.values:
            counts = Counter(s.target for s in stories)
            if counts[status] or len(stories) < len(Status.values):
                continue
            spare = [s for s in stories if counts[s.target] > 1]
            rng.choice(spare).target = status

    def _plan(self, rng: random.Random, story: Story, provider: Staff, now: datetime) -> None:
        spec = story.spec
        answers = _answers(rng, spec, story.created_at)
        story.form_data = answers
        story.title = rng.choice(spec.titles).format_map(_Fields(answers))
        story.description = rng.choice(spec.details)
        if rng.random() < 0.3:
            story.description += f"\n\n如有问题请联系我，分机 {rng.randint(8001, 8999)}。"
        story.priority = _priority(rng, spec.priority)
        story.source = rng.choices(
            (Ticket.Source.WEB, Ticket.Source.EMAIL, Ticket.Source.API), weights=(85, 10, 5)
        )[0]
        story.steps = _steps(rng, story, provider)
        # Squeeze a history that would run past now into the time the ticket has had.
        total = sum(minutes for minutes, _ in story.steps)
        available = (now - story.created_at).total_seconds() / 60 - 1
        if total > available > 0:
            story.steps = [(minutes * available / total, act) for minutes, act in story.steps]

    @staticmethod
    def _play(story: Story) -> None:
        """File the ticket and run its steps, then move each step's events to the step's time."""
        ticket = ticket_services.file_ticket(
            requester=story.requester,
            service=story.service,
            title=story.title,
            description=story.description,
            priority=story.priority,
            form_data=story.form_data,
            source=story.source,
            at=story.created_at,
        )
        at = story.created_at
        boundaries: list[tuple[int, datetime]] = [(_last_event_id(ticket), at)]
        for minutes, act in story.steps:
            act(ticket)
            at += timedelta(minutes=minutes)
            boundaries.append((_last_event_id(ticket), at))
        if len(boundaries) > 1:
            TicketEvent.objects.filter(ticket=ticket, pk__gt=boundaries[0][0]).update(
                at=Case(
                    *(
                        When(pk__gt=low, pk__lte=high, then=Value(step_at))
                        for (low, _), (high, step_at) in pairwise(boundaries)
                    ),
                    output_field=DateTimeField(),
                )
            )

    @staticmethod
    def _stamp_ticket_times(services: list[Service]) -> None:
        """Derive the tickets' and comments' timestamps from their (moved) timelines."""
        events = TicketEvent.objects.filter(ticket=OuterRef("pk"))
        first_response = events.filter(kind=TicketEvent.Kind.FIRST_RESPONSE).order_by("at", "pk")
        resolved = events.filter(kind=TicketEvent.Kind.RESOLVED).order_by("-at", "-pk")
        closed = events.filter(
            kind=TicketEvent.Kind.STATUS_CHANGED, to_value=Status.CLOSED
        ).order_by("-at", "-pk")
        Ticket.objects.filter(service__in=services).update(
            first_response_at=Subquery(first_response.values("at")[:1]),
            resolved_at=Case(
                When(resolved_at__isnull=False, then=Subquery(resolved.values("at")[:1])),
                default=F("resolved_at"),
            ),
            closed_at=Case(
                When(closed_at__isnull=False, then=Subquery(closed.values("at")[:1])),
                default=F("closed_at"),
            ),
            updated_at=Subquery(events.order_by("-at", "-pk").values("at")[:1]),
        )
        Comment.objects.filter(ticket__service__in=services).update(
            created_at=Subquery(
                TicketEvent.objects.filter(
                    comment=OuterRef("pk"), kind=TicketEvent.Kind.COMMENTED
                ).values("at")[:1]
            )
        )

    # -- Summary -------------------------------------------------------------------------------

    def _summary(self, services: list[Service], created: int, seed: int, seconds: float) -> None:
        tickets = Ticket.objects.filter(service__in=services)
        by_status = dict(tickets.values_list("status").annotate(n=Count("pk")).order_by())
        comments = Comment.objects.filter(ticket__in=tickets).aggregate(
            total=Count("pk"), internal=Count("pk", filter=Q(internal=True))
        )
        events = TicketEvent.objects.filter(ticket__in=tickets).count()
        usernames = [ADMIN_USERNAME] + [person.username for person in build_roster()]
        people = User.objects.filter(username__in=usernames).count()
        write = self.stdout.write
        write(self.style.SUCCESS(f"Demo company ready in {seconds:.1f} s (seed {seed})."))
        write(
            f"  departments {Department.objects.count()}, people {people}, "
            f"services {len(services)}, tickets {tickets.count()} ({created} new)"
        )
        write(
            "  tickets by status: "
            + ", ".join(f"{status} {by_status.get(status, 0)}" for status in Status.values)
        )
        write(
            f"  comments {comments['total']} ({comments['internal']} internal notes), "
            f"timeline events {events}"
        )
        write(f"Demo sign-in at /accounts/login/, password {DEMO_PASSWORD}:")
        for username, who in DEMO_LOGINS:
            write(f"  {username:<9} {who}")
        write("  (every other demo person, e.g. the other department heads, has the same password)")


# -- Helpers -------------------------------------------------------------------------------------


def _package_knows(year: int) -> bool:
    from slas.calendars import UnknownYear, china_official_days

    try:
        china_official_days(year)
    except UnknownYear:
        return False
    return True


def _last_event_id(ticket: Ticket) -> int:
    return ticket.events.aggregate(last=Max("pk"))["last"] or 0


def _filing_time(rng: random.Random, now: datetime) -> datetime:
    """A moment in the last HISTORY_DAYS, mostly on a weekday during office hours (Shanghai)."""
    local = ZoneInfo(settings.TIME_ZONE)
    day = (now - timedelta(days=rng.uniform(0, HISTORY_DAYS))).astimezone(local).date()
    if day.weekday() >= 5 and rng.random() < 0.85:
        day -= timedelta(days=day.weekday() - 4)
    moment = datetime.combine(day, clock_time(9), tzinfo=local) + timedelta(
        minutes=rng.uniform(0, 9 * 60)
    )
    if moment > now - timedelta(minutes=30):
        moment = now - timedelta(minutes=rng.uniform(30, 6 * 60))
    return moment


def _answers(rng: random.Random, spec: ServiceSpec, filed: datetime) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    filed_on: date = filed.astimezone(ZoneInfo(settings.TIME_ZONE)).date()
    for item in spec.fields:
        if not item["required"] and rng.random() < 0.35:
            continue
        kind = item["type"]
        if kind == "choice":
            answers[item["key"]] = rng.choice(item["choices"])
        elif kind == "number":
            low, high, step = item["demo"]
            answers[item["key"]] = rng.randrange(low, high + 1, step)
        elif kind == "date":
            low, high = item["demo"]
            answers[item["key"]] = (filed_on + timedelta(days=rng.randint(low, high))).isoformat()
        else:
            answers[item["key"]] = rng.choice(item["demo"])
    return answers


def _priority(rng: random.Random, default: str) -> str:
    roll = rng.random()
    position = PRIORITY_ORDER.index(default)
    if roll < 0.03:
        return Priority.URGENT
    if roll < 0.15:
        position = min(position + 1, len(PRIORITY_ORDER) - 1)
    elif roll < 0.25:
        position = max(position - 1, 0)
    return PRIORITY_ORDER[position]


def _steps(rng: random.Random, story: Story, provider: Staff) -> list[tuple[float, Action]]:
    """What happens after filing, as the people involved would do it, to reach story.target."""
    target, requester, head = story.target, story.requester, provider.head
    pace = PACE[story.priority]
    spec = story.spec
    weights = [4 if u.username == "agent" else 1 if u == head else 2 for u in provider.agents]
    agent = rng.choices(provider.agents, weights=weights)[0]
    steps: list[tuple[float, Action]] = []

    def later(low: float, high: float, scaled: bool = True) -> float:
        return rng.uniform(low, high) * (pace if scaled else 1)

    def comment(author: User, body: str, internal: bool = False) -> Action:
        return lambda t: ticket_services.add_comment(
            ticket=t, author=author, body=body, internal=internal
        )

    def move(actor: User | None, status: str, text: str = "", **extra: Any) -> Action:
        return lambda t: ticket_services.transition_ticket(
            ticket=t, actor=actor, status=status, comment=text, system=actor is None, **extra
        )

    if target == Status.NEW:
        if rng.random() < 0.25:
            steps.append((later(60, 600, scaled=False), comment(requester, rng.choice(FOLLOW_UPS))))
        return steps

    if target == Status.CANCELLED:
        if rng.random() < 0.4:
            steps.append((later(5, 240), move(head, Status.ASSIGNED, assignee=agent)))
        if rng.random() < 0.7:
            steps.append(
                (later(30, 2880, scaled=False), comment(requester, rng.choice(CANCELLATIONS)))
            )
            steps.append((later(1, 5, scaled=False), move(requester, Status.CANCELLED)))
        else:
            steps.append((later(30, 1440), comment(head, rng.choice(HEAD_CANCELLATIONS))))
            steps.append((later(1, 5, scaled=False), move(head, Status.CANCELLED)))
        return steps

    assigned = target == Status.ASSIGNED or rng.random() < 0.7
    if assigned:
        if rng.random() < 0.5:
            steps.append((later(5, 240), move(head, Status.ASSIGNED, assignee=agent)))
        else:
            steps.append((later(5, 240), move(agent, Status.ASSIGNED)))
    if target == Status.ASSIGNED:
        if rng.random() < 0.3:
            steps.append((later(10, 120), comment(agent, rng.choice(INTERNAL_NOTES), True)))
        return steps

    if target == Status.WAITING and assigned and rng.random() < 0.3:
        steps.append((later(10, 480), move(agent, Status.WAITING, rng.choice(QUESTIONS))))
        return steps
    ack = rng.choice(ACKNOWLEDGEMENTS) if rng.random() < 0.5 else ""
    steps.append((later(10, 480), move(agent, Status.IN_PROGRESS, ack)))
    if rng.random() < 0.3:
        steps.append((later(10, 240), comment(agent, rng.choice(INTERNAL_NOTES), True)))
    if target == Status.WAITING:
        steps.append((later(30, 600), move(agent, Status.WAITING, rng.choice(QUESTIONS))))
        return steps
    if rng.random() < 0.25:
        # The agent asks, the requester answers and the ticket goes back in progress by itself.
        steps.append((later(30, 600), move(agent, Status.WAITING, rng.choice(QUESTIONS))))
        steps.append((later(60, 1440, scaled=False), comment(requester, rng.choice(REPLIES))))
    if target == Status.IN_PROGRESS:
        return steps

    resolutions = spec.resolutions or GENERIC_RESOLUTIONS
    steps.append((later(60, 2880), move(agent, Status.RESOLVED, rng.choice(resolutions))))
    if rng.random() < 0.08:
        steps.append(
            (
                later(120, 2880, scaled=False),
                move(requester, Status.IN_PROGRESS, rng.choice(REOPENINGS)),
            )
        )
        steps.append((later(60, 1440), move(agent, Status.RESOLVED, rng.choice(resolutions))))
    if target == Status.RESOLVED:
        return steps

    if rng.random() < 0.6:
        if rng.random() < 0.6:
            steps.append((later(30, 1440, scaled=False), comment(requester, rng.choice(THANKS))))
        steps.append((later(1, 2880, scaled=False), move(requester, Status.CLOSED)))
    else:
        # Nobody confirmed: the auto-close closes it a few business days after resolution.
        steps.append((later(3 * 1440, 5 * 1440, scaled=False), move(None, Status.CLOSED)))
    return steps
