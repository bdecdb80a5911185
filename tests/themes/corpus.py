# ruff: noqa: E501  (sentences of a fixture corpus, one per line)
"""A fixture corpus in six languages with planted themes: what residents might text about six matters, each said in
several ways in every language, places and small additions drawn with a fixed seed."""

from __future__ import annotations

import random

PLACES = {
    "en": ["on 3rd Street", "near the library", "by the school", "on Main", "at Mission and 24th"],
    "es": ["en la calle 3", "cerca de la biblioteca", "junto a la escuela", "en Main", "en Mission y 24"],
    "zh_Hans": ["在三街", "在图书馆附近", "在学校旁边", "在主街", "在米慎街"],
    "vi": ["ở đường số 3", "gần thư viện", "cạnh trường học", "ở đường Main", "ở góc Mission"],
    "ar": ["في الشارع الثالث", "قرب المكتبة", "بجانب المدرسة", "في الشارع الرئيسي", "عند تقاطع ميشن"],
    "fr": ["rue 3", "près de la bibliothèque", "à côté de l'école", "sur Main", "au coin de Mission"],
}
EXTRAS = {
    "en": ["", " Please.", " It has been months.", " My kids need it.", " Thank you."],
    "es": ["", " Por favor.", " Hace meses.", " Mis hijos lo necesitan.", " Gracias."],
    "zh_Hans": ["", "请帮忙。", "已经好几个月了。", "孩子们需要。", "谢谢。"],
    "vi": ["", " Làm ơn.", " Đã nhiều tháng rồi.", " Các con tôi cần.", " Cảm ơn."],
    "ar": ["", " من فضلكم.", " منذ شهور.", " أطفالي يحتاجون ذلك.", " شكراً."],
    "fr": ["", " S'il vous plaît.", " Ça dure depuis des mois.", " Mes enfants en ont besoin.", " Merci."],
}
# fmt: off
THEMES: dict[str, dict[str, list[str]]] = {
    "bus_shade": {
        "en": ["The bus stop {p} has no shade", "We need a shelter at the bus stop {p}", "Waiting for the bus {p} in the sun is too hot, no shade"],
        "es": ["La parada del autobús {p} no tiene sombra", "Necesitamos un techo en la parada de autobús {p}", "Esperar el autobús {p} al sol es terrible, no hay sombra"],
        "zh_Hans": ["{p}的公交车站没有遮阳棚", "{p}公交站需要遮阳", "{p}等公交车太晒了，没有遮阳的地方"],
        "vi": ["Trạm xe buýt {p} không có bóng mát", "Cần mái che ở trạm xe buýt {p}", "Chờ xe buýt {p} nắng quá, không có bóng mát"],
        "ar": ["موقف الحافلة {p} ليس فيه ظل", "نحتاج مظلة في موقف الحافلة {p}", "انتظار الحافلة {p} تحت الشمس صعب بلا ظل"],
        "fr": ["L'arrêt de bus {p} n'a pas d'ombre", "Il faut un abri à l'arrêt de bus {p}", "Attendre le bus {p} en plein soleil, sans ombre"],
    },
    "streetlights": {
        "en": ["The streetlights {p} are broken", "It is too dark at night {p}, we need lights", "Please fix the streetlight {p}, it is dark"],
        "es": ["Las luces de la calle {p} están rotas", "Está muy oscuro de noche {p}, faltan luces", "Arreglen el alumbrado {p}, está oscuro"],
        "zh_Hans": ["{p}的路灯坏了", "{p}晚上太黑了，需要路灯", "请修好{p}的路灯，太黑了"],
        "vi": ["Đèn đường {p} bị hỏng", "Buổi tối {p} tối quá, cần đèn đường", "Xin sửa đèn đường {p}, rất tối"],
        "ar": ["أنوار الشارع {p} معطلة", "المكان مظلم جداً ليلاً {p}، نحتاج إنارة", "أصلحوا مصابيح الشارع {p}، الظلام شديد"],
        "fr": ["Les lampadaires {p} sont cassés", "Il fait trop noir la nuit {p}, il faut de l'éclairage", "Réparez le lampadaire {p}, c'est sombre"],
    },
    "clinic_hours": {
        "en": ["The clinic {p} should open on Saturdays", "I work all day, the clinic needs evening hours", "Clinic hours {p} are too short, open on weekends"],
        "es": ["La clínica {p} debería abrir los sábados", "Trabajo todo el día, la clínica necesita horario de tarde", "El horario de la clínica {p} es muy corto, abran el fin de semana"],
        "zh_Hans": ["{p}的诊所应该周六开门", "我白天上班，诊所需要晚上开放", "{p}诊所开放时间太短，周末也应该开"],
        "vi": ["Phòng khám {p} nên mở cửa thứ bảy", "Tôi làm cả ngày, phòng khám cần mở buổi tối", "Giờ mở cửa phòng khám {p} quá ngắn, nên mở cuối tuần"],
        "ar": ["يجب أن تفتح العيادة {p} يوم السبت", "أعمل طوال اليوم، العيادة تحتاج ساعات مسائية", "ساعات العيادة {p} قصيرة، افتحوا في عطلة الأسبوع"],
        "fr": ["La clinique {p} devrait ouvrir le samedi", "Je travaille toute la journée, la clinique doit ouvrir le soir", "Les horaires de la clinique {p} sont trop courts, ouvrez le samedi"],
    },
    "interpreters": {
        "en": ["There are no interpreters at the clinic", "I could not understand the doctor, we need an interpreter", "Please have interpreters {p} for our language"],
        "es": ["No hay intérpretes en la clínica", "No entendí al médico, necesitamos un intérprete", "Por favor pongan intérpretes {p} en nuestro idioma"],
        "zh_Hans": ["诊所里没有翻译", "我听不懂医生的话，需要翻译", "请{p}提供中文翻译"],
        "vi": ["Không có phiên dịch ở phòng khám", "Tôi không hiểu bác sĩ nói gì, cần phiên dịch", "Xin có thông dịch viên {p} cho người Việt"],
        "ar": ["لا يوجد مترجم في العيادة", "لم أفهم الطبيب، نحتاج مترجم", "نرجو توفير ترجمة {p} بلغتنا"],
        "fr": ["Il n'y a pas d'interprète à la clinique", "Je n'ai pas compris le médecin, il faut un interprète", "Des interprètes {p} pour notre langue, s'il vous plaît"],
    },
    "rent": {
        "en": ["My rent went up again {p}", "The landlord wants to evict us", "Housing {p} costs too much, rent is too high"],
        "es": ["Me subieron la renta otra vez {p}", "El dueño nos quiere desalojar", "La vivienda {p} cuesta demasiado, el alquiler es muy alto"],
        "zh_Hans": ["{p}的房租又涨了", "房东要把我们赶走", "{p}住房太贵了，房租太高"],
        "vi": ["Tiền nhà {p} lại tăng", "Chủ nhà muốn đuổi chúng tôi đi", "Nhà ở {p} quá đắt, tiền nhà quá cao"],
        "ar": ["ارتفع الإيجار مرة أخرى {p}", "المالك يريد طردنا من السكن", "السكن {p} غالٍ جداً، الإيجار مرتفع"],
        "fr": ["Mon loyer a encore augmenté {p}", "Le propriétaire veut nous expulser", "Le logement {p} coûte trop cher, le loyer est trop élevé"],
    },
    "food": {
        "en": ["There is no place to buy fresh vegetables {p}", "Healthy food is too expensive {p}", "We need a market with fruit and vegetables {p}"],
        "es": ["No hay dónde comprar verduras frescas {p}", "La comida sana es muy cara {p}", "Necesitamos un mercado con frutas y verduras {p}"],
        "zh_Hans": ["{p}买不到新鲜蔬菜", "{p}健康食物太贵了", "{p}需要一个卖水果和蔬菜的市场"],
        "vi": ["Không có chỗ mua rau tươi {p}", "Thực phẩm lành mạnh quá đắt {p}", "Cần một chợ bán rau và trái cây {p}"],
        "ar": ["لا يوجد مكان لشراء الخضار الطازجة {p}", "الطعام الصحي غالٍ جداً {p}", "نحتاج سوقاً للفواكه والخضار {p}"],
        "fr": ["Impossible d'acheter des légumes frais {p}", "La nourriture saine est trop chère {p}", "Il faut un marché avec des fruits et légumes {p}"],
    },
}
# fmt: on


def corpus(per_language: int = 10, seed: int = 2026) -> list[tuple[str, str, str]]:
    """(text, language, planted theme) for every theme and language, shuffled with a fixed seed."""
    rng = random.Random(seed)
    found = []
    for theme, languages in THEMES.items():
        for locale, templates in languages.items():
            for n in range(per_language):
                text = templates[n % len(templates)].format(p=rng.choice(PLACES[locale]))
                found.append((text + rng.choice(EXTRAS[locale]), locale, theme))
    rng.shuffle(found)
    return found
