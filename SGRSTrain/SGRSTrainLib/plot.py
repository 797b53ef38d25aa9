"""Live loss / validation-Dice plot as MRML table, plot series and plot chart nodes."""
from __future__ import annotations

import vtk


class TrainingPlot:
    def __init__(self, scene, name: str = "SGRS training"):
        self.scene = scene
        self.tables, self.series = {}, {}
        self.chart = scene.AddNewNodeByClass("vtkMRMLPlotChartNode", f"{name} chart")
        self.chart.SetTitle(name)
        self.chart.SetXAxisTitle("iteration")
        for key, title, color in (("loss", "loss", (0.85, 0.3, 0.2)), ("dice", "validation Dice", (0.2, 0.5, 0.9))):
            table = scene.AddNewNodeByClass("vtkMRMLTableNode", f"{name} {title}")
            for col_name in ("iteration", key):
                col = vtk.vtkDoubleArray()
                col.SetName(col_name)
                table.AddColumn(col)
            series = scene.AddNewNodeByClass("vtkMRMLPlotSeriesNode", f"{name} {title}")
            series.SetAndObserveTableNodeID(table.GetID())
            series.SetXColumnName("iteration")
            series.SetYColumnName(key)
            series.SetPlotType(series.PlotTypeScatter)
            series.SetColor(*color)
            self.chart.AddAndObservePlotSeriesNodeID(series.GetID())
            self.tables[key], self.series[key] = table, series

    def update(self, status) -> None:
        """Replace the curves with the job's full history (cheap: a few thousand points)."""
        for key, points in (("loss", status.losses or []), ("dice", status.dice or [])):
            table = self.tables[key].GetTable()
            table.SetNumberOfRows(len(points))
            for row, (x, y) in enumerate(points):
                table.SetValue(row, 0, float(x))
                table.SetValue(row, 1, float(y))
            table.Modified()
            self.tables[key].Modified()
