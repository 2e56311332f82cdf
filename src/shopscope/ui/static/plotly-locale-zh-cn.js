/* Simplified Chinese for plotly.js (mode bar, tool tips, month and day names).
   Registered as "zh-CN"; pages pass {locale: "zh-CN"} in the plot config. */
(function () {
  "use strict";
  if (!window.Plotly) { return; }
  window.Plotly.register({
    moduleType: "locale",
    name: "zh-CN",
    dictionary: {
      "Autoscale": "自动缩放",
      "Box Select": "矩形框选",
      "Click to enter Plot title": "点击输入图表标题",
      "Click to enter X axis title": "点击输入 X 轴标题",
      "Click to enter Y axis title": "点击输入 Y 轴标题",
      "Compare data on hover": "悬停时比较数据",
      "Double-click on legend to isolate one trace": "双击图例以单独显示该数据",
      "Double-click to zoom back out": "双击还原缩放",
      "Download plot": "下载图表",
      "Download plot as a png": "下载为 PNG 图片",
      "Edit in Chart Studio": "在 Chart Studio 中编辑",
      "Lasso Select": "套索选择",
      "Orbital rotation": "轨道旋转",
      "Pan": "平移",
      "Produced with Plotly.js": "由 Plotly.js 生成",
      "Reset": "重置",
      "Reset axes": "重置坐标轴",
      "Reset camera to default": "重置相机",
      "Reset camera to last save": "恢复上次保存的相机",
      "Reset view": "重置视图",
      "Reset views": "重置视图",
      "Show closest data on hover": "悬停时显示最近的数据",
      "Snapshot succeeded": "截图成功",
      "Sorry, there was a problem downloading your snapshot!": "抱歉，下载截图时出错！",
      "Taking snapshot - this may take a few seconds": "正在截图，可能需要几秒钟",
      "Toggle Spike Lines": "切换辅助线",
      "Toggle show closest data on hover": "切换悬停时显示最近的数据",
      "Turntable rotation": "转盘旋转",
      "Zoom": "缩放",
      "Zoom in": "放大",
      "Zoom out": "缩小",
      "close:": "收盘：",
      "high:": "最高：",
      "low:": "最低：",
      "open:": "开盘：",
      "trace": "数据",
      "new text": "新文本"
    },
    format: {
      days: ["星期日", "星期一", "星期二", "星期三", "星期四", "星期五", "星期六"],
      shortDays: ["周日", "周一", "周二", "周三", "周四", "周五", "周六"],
      months: ["一月", "二月", "三月", "四月", "五月", "六月", "七月", "八月", "九月", "十月",
               "十一月", "十二月"],
      shortMonths: ["1月", "2月", "3月", "4月", "5月", "6月", "7月", "8月", "9月", "10月", "11月",
                    "12月"],
      date: "%Y-%m-%d",
      year: "%Y年",
      month: "%Y年%-m月",
      dayMonth: "%-m月%-d日",
      dayMonthYear: "%Y年%-m月%-d日"
    }
  });
})();
