"""Live loss / validation-Dice plot as MRML table, plot series, chart and plot view nodes.

The nodes are made only when a job is shown, found again instead of duplicated on every widget
setup or module reload, kept out of saved scenes and editors, and made afresh after Close Scene
removed them (issue 8, item 10).
"""
from __future__ import annotations

import vtk
from SGRSSegmentLib.scene_nodes import nodes_of_class

ROLE = "SGRS.trainingPlot"
CURVES = (("loss", "loss", (0.85, 0.3, 0.2)), ("dice", "validation Dice", (0.2, 0.5, 0.9)))


def _find(scene, cls: str, role: str):
    for node in nodes_of_class(scene, cls):
        if node.GetAttribute(ROLE) == role:
            return node
    return None


def _node(scene, cls: str, role: str, name: str):
    node = _find(scene, cls, role)
    if node is None:
        node = scene.AddNewNodeByClass(cls, name)
        node.SetAttribute(ROLE, role)
        node.SetSaveWithScene(False)
        node.SetHideFromEditors(True)
    return node


class TrainingPlot:
    def __init__(self, scene, name: str = "SGRS training"):
        self.scene, self.name = scene, name
        self.tables, self.series, self.chart, self.view = {}, {}, None, None
        self.ensure()

    def ensure(self) -> None:
        """Find or (re)create every node; cheap when they exist."""
        scene, name = self.scene, self.name
        self.chart = _node(scene, "vtkMRMLPlotChartNode", "chart", f"{name} chart")
        self.chart.SetTitle(name)
        self.chart.SetXAxisTitle("iteration")
        for key, title, color in CURVES:
            table = _node(scene, "vtkMRMLTableNode", f"table {key}", f"{name} {title}")
            if table.GetNumberOfColumns() != 2:
                table.RemoveAllColumns()
                for col_name in ("iteration", key):
                    col = vtk.vtkDoubleArray()
                    col.SetName(col_name)
                    table.AddColumn(col)
            series = _node(scene, "vtkMRMLPlotSeriesNode", f"series {key}", f"{name} {title}")
            series.SetAndObserveTableNodeID(table.GetID())
            series.SetXColumnName("iteration")
            series.SetYColumnName(key)
            series.SetPlotType(series.PlotTypeScatter)
            series.SetColor(*color)
            if not self.chart.HasPlotSeriesNodeID(series.GetID()):
                self.chart.AddAndObservePlotSeriesNodeID(series.GetID())
            self.tables[key], self.series[key] = table, series
        self.view = _node(scene, "vtkMRMLPlotViewNode", "view", f"{name} view")
        self.view.SetPlotChartNodeID(self.chart.GetID())

    def update(self, status) -> None:
        """Replace the curves with the job's full history (cheap: a few thousand points)."""
        if self.scene.GetNodeByID(self.chart.GetID()) is not self.chart:
            self.ensure()  # the scene was closed
        for key, points in (("loss", status.losses or []), ("dice", status.dice or [])):
            table = self.tables[key].GetTable()
            table.SetNumberOfRows(len(points))
            for row, (x, y) in enumerate(points):
                table.SetValue(row, 0, float(x))
                table.SetValue(row, 1, float(y))
            table.Modified()
            self.tables[key].Modified()
