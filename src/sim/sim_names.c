/*
 * sim_names.c - the fixed tables of the simulated district: its 36 streets
 * and towns, their roads, the names of compounds, household types and the
 * dates of the Spring Festival.
 *
 * Streets are listed in the order of the map grid (sim_geo.c): six columns
 * from the Huangpu river eastwards to the coast, each from north to south.
 * Weights are rough resident counts in thousands, so that households go
 * where people live: dense old streets by the river, thin towns by the sea.
 * Every road name is unique in the district, so "road + lane" names one
 * compound.
 */
#include "sim/sim_int.h"

#include <stdio.h>
#include <string.h>

struct street_row {
    const char *name;
    int urban;
    double weight;
    const char *roads[SIM_ROADS_PER_STREET];
};

static const struct street_row streets[SIM_MAX_STREETS] = {
    /* column 0, along the river */
    {"高桥镇", 0, 170, {"季景路", "西营路", "江东路", "凌桥路"}},
    {"沪东新村街道", 1, 100, {"莱阳路", "五莲路", "东陆路", "长岛路"}},
    {"浦兴路街道", 1, 130, {"浦兴路", "金桥路", "荷泽路", "博兴路"}},
    {"陆家嘴街道", 1, 110, {"东昌路", "浦东南路", "福山路", "乳山路"}},
    {"潍坊新村街道", 1, 100, {"潍坊路", "崂山路", "南泉路", "源深路"}},
    {"塘桥街道", 1, 80, {"塘桥路", "蓝村路", "浦电路", "峨山路"}},
    {"南码头路街道", 1, 95, {"南码头路", "临沂路", "浦建路", "云台路"}},
    {"周家渡街道", 1, 150, {"周家渡路", "上南路", "昌里路", "德州路"}},
    /* column 1 */
    {"高行镇", 0, 150, {"东靖路", "高行路", "东沟路", "杨园路"}},
    {"金杨新村街道", 1, 180, {"金杨路", "博山东路", "灵山路", "云山路"}},
    {"洋泾街道", 1, 140, {"羽山路", "巨野路", "昌邑路", "栖山路"}},
    {"花木街道", 1, 250, {"锦绣路", "芳甸路", "梅花路", "花木路"}},
    {"东明路街道", 1, 140, {"东明路", "凌兆路", "长清路", "灵岩南路"}},
    {"上钢新村街道", 1, 80, {"济阳路", "耀华路", "成山路", "高青路"}},
    {"三林镇", 0, 450, {"三林路", "杨思路", "永泰路", "海阳路"}},
    /* column 2 */
    {"高东镇", 0, 100, {"高东路", "杨高北路", "新高路", "巨峰路"}},
    {"金桥镇", 0, 160, {"金港路", "金海路", "张杨北路", "金高路"}},
    {"张江镇", 0, 300, {"张江路", "碧波路", "祖冲之路", "高科中路"}},
    {"北蔡镇", 0, 250, {"莲溪路", "沪南路", "陈春路", "御桥路"}},
    {"康桥镇", 0, 200, {"康桥路", "秀沿路", "沪南公路", "康士路"}},
    {"航头镇", 0, 130, {"航头路", "航都路", "鹤沙路", "航瑞路"}},
    /* column 3 */
    {"曹路镇", 0, 280, {"民雷路", "顾曹路", "民冬路", "民耀路"}},
    {"唐镇", 0, 190, {"唐陆路", "唐丰路", "创新中路", "齐爱路"}},
    {"川沙新镇", 0, 380, {"川沙路", "华夏东路", "新川路", "妙境路"}},
    {"周浦镇", 0, 200, {"年家浜路", "周东路", "周康路", "繁荣路"}},
    {"新场镇", 0, 90, {"新环东路", "新奉公路", "坦直路", "仁义路"}},
    {"宣桥镇", 0, 60, {"宣秀路", "宣春路", "南六公路", "三三公路"}},
    /* column 4 */
    {"合庆镇", 0, 120, {"庆荣路", "庆利路", "东川公路", "合庆路"}},
    {"祝桥镇", 0, 180, {"施新路", "亭中路", "川六公路", "南祝路"}},
    {"惠南镇", 0, 300, {"人民东路", "城南路", "拱极路", "靖海路"}},
    {"大团镇", 0, 70, {"大团北路", "团新路", "永春路", "果园路"}},
    {"老港镇", 0, 45, {"建港路", "东隆路", "牛肚路", "大河路"}},
    /* column 5, by the sea */
    {"书院镇", 0, 60, {"新欣路", "李雪路", "丽正路", "新舒路"}},
    {"万祥镇", 0, 30, {"万兴路", "万丰路", "三三路", "南芦公路"}},
    {"泥城镇", 0, 90, {"云汉路", "秋涟路", "彭镇路", "鸿音路"}},
    {"南汇新城镇", 0, 200, {"环湖西一路", "申港大道", "水芸路", "古棕路"}},
};

const char *sim_street_name(int street)
{
    return streets[street].name;
}

double sim_street_weight(int street)
{
    return streets[street].weight;
}

int sim_street_is_urban(int street)
{
    return streets[street].urban;
}

const char *sim_road_name(int road)
{
    return streets[road / SIM_ROADS_PER_STREET]
        .roads[road % SIM_ROADS_PER_STREET];
}

static const char *const compound_prefix[] = {
    "梅园", "崂山", "潍坊", "泉东", "福山", "竹园", "东昌", "仁恒", "世茂",
    "金杨", "罗山", "锦绣", "由由", "严桥", "民生", "松林", "南泉", "浦发",
    "东园", "源深", "钱塘", "银河", "明珠", "阳光", "绿洲", "蓝天", "春江",
    "香梅", "紫薇", "丁香", "玉兰", "海桐", "碧云", "新月", "东方", "金桥",
    "张江", "长岛", "莱阳", "凌兆", "杨思", "上南", "德州", "昌里", "耀华",
    "济阳", "海阳", "永泰", "御桥", "康桥", "周康", "秀沿", "鹤沙", "航城",
    "川沙", "华夏", "唐城", "合庆", "祝桥", "惠南", "古钟", "书院", "泥城",
    "临港", "滴水", "芦潮", "万祥", "江镇", "高行", "高桥", "凌桥", "曹路",
    "金海", "博山", "灵山", "云山", "栖山", "羽山", "巨野", "伟莱",
};
#define N_PREFIX (sizeof(compound_prefix) / sizeof(compound_prefix[0]))

static const char *const compound_suffix[] = {
    "村",   "新村", "小区", "花园", "公寓", "苑",   "家园", "名邸",
    "新苑", "城",   "佳园", "雅苑", "华庭", "绿苑", "大厦", "坊",
};
#define N_SUFFIX (sizeof(compound_suffix) / sizeof(compound_suffix[0]))

static const char *const numerals[] = {"一", "二", "三", "四", "五",
                                       "六", "七", "八", "九"};
#define N_NUMERAL 9

/*
 * Names are a permutation of prefix x suffix x numeral (11,520 of them),
 * so consecutive compounds get unrelated, unique names: "梅园三村",
 * "东昌花园", "由由花园二期".
 */
void sim_compound_name(uint32_t name_index, char *out, size_t cap)
{
    const uint32_t total = N_PREFIX * N_SUFFIX * N_NUMERAL;
    uint32_t j = (uint32_t)(((uint64_t)name_index * 7919 + 13) % total);
    uint32_t p = j % N_PREFIX, s = (j / N_PREFIX) % N_SUFFIX;
    uint32_t n = j / (N_PREFIX * N_SUFFIX);
    if (s == 0)
        snprintf(out, cap, "%s%s村", compound_prefix[p], numerals[n]);
    else if (n == 0)
        snprintf(out, cap, "%s%s", compound_prefix[p], compound_suffix[s]);
    else
        snprintf(out, cap, "%s%s%s期", compound_prefix[p], compound_suffix[s],
                 numerals[n]);
}

/* Lunar new year's day, 2015-2040. */
static const struct {
    int year;
    unsigned month, day;
} spring_festival[] = {
    {2015, 2, 19}, {2016, 2, 8},  {2017, 1, 28}, {2018, 2, 16}, {2019, 2, 5},
    {2020, 1, 25}, {2021, 2, 12}, {2022, 2, 1},  {2023, 1, 22}, {2024, 2, 10},
    {2025, 1, 29}, {2026, 2, 17}, {2027, 2, 6},  {2028, 1, 26}, {2029, 2, 13},
    {2030, 2, 3},  {2031, 1, 23}, {2032, 2, 11}, {2033, 1, 31}, {2034, 2, 19},
    {2035, 2, 8},  {2036, 1, 28}, {2037, 2, 15}, {2038, 2, 4},  {2039, 1, 24},
    {2040, 2, 12},
};

int64_t sim_spring_festival(int year)
{
    size_t n = sizeof(spring_festival) / sizeof(spring_festival[0]);
    for (size_t i = 0; i < n; i++)
        if (spring_festival[i].year == year)
            return time_days_from_civil(year, spring_festival[i].month,
                                        spring_festival[i].day);
    return -1;
}

static const char *const htype_names[SIM_H_COUNT] = {
    "commuters",     "family_children",   "retirees",     "students_sharing",
    "shift_workers", "elderly_alone",     "large_family", "vacant",
    "home_business", "short_term_rental", "group_rental",
};

/* Target shares of all households (ours; see docs/SIMULATOR.md). */
const double sim_htype_share[SIM_H_COUNT] = {
    0.345, /* commuters: singles and couples who work out */
    0.240, /* families with children */
    0.120, /* retired couples */
    0.025, /* students sharing legally */
    0.045, /* shift workers */
    0.060, /* elderly living alone */
    0.030, /* legal large families */
    0.090, /* vacant */
    0.015, /* home businesses */
    0.015, /* short-term rentals */
    0.015, /* group rentals */
};

const char *sim_htype_name(int type)
{
    return type >= 0 && type < SIM_H_COUNT ? htype_names[type] : "unknown";
}

static const char *const pkind_names[SIM_P_COUNT] = {
    "commuter", "retiree", "homemaker", "child", "student",
    "shift",    "tenant",  "elder",     "guest",
};

const char *sim_pkind_name(int kind)
{
    return kind >= 0 && kind < SIM_P_COUNT ? pkind_names[kind] : "unknown";
}
